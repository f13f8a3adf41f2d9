"""`ichbench data fetch` against a loopback HTTP server serving a phantom release."""

from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ichbench.data.fetch import ARCHIVE

VERSION = "1.0.0"
ARCHIVE_PATH = f"/static/published-projects/ct-ich/{ARCHIVE.format(v=VERSION)}"
SUMS_PATH = f"/files/ct-ich/{VERSION}/SHA256SUMS.txt"


class Server:
    """Serves files from a dict with Range support; can cut the first archive response short."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut_after: int | None = None
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer.requests.append((self.path, self.headers.get("Range")))
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
                if start >= len(body) and start:
                    self.send_error(416)
                    return
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                payload = body[start:]
                if outer.cut_after is not None and self.path == ARCHIVE_PATH:
                    payload, outer.cut_after = payload[: outer.cut_after], None  # connection drops
                self.wfile.write(payload)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.httpd.shutdown()


def _zip_release(root: Path, extra: dict[str, bytes] | None = None) -> bytes:
    buf = root.parent / "release.zip"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, f"ct-ich-{VERSION}/{path.relative_to(root).as_posix()}")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.read_bytes()


def _sums(root: Path) -> bytes:
    lines = [
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  ./{p.relative_to(root).as_posix()}"
        for p in sorted(root.rglob("*"))
        if p.is_file()
    ]
    return ("\n".join(lines) + "\n").encode()


def test_fetch_verifies_unpacks_and_checks(phantom_jpg: Path, server: Server, tmp_path: Path, cli) -> None:
    server.files = {ARCHIVE_PATH: _zip_release(phantom_jpg), SUMS_PATH: _sums(phantom_jpg)}
    out = tmp_path / "data"
    proc = cli("data", "fetch", "--version", VERSION, "--out", out, "--base-url", server.url)
    assert proc.returncode == 0, proc.stderr
    assert (out / "hemorrhage_diagnosis.csv").read_bytes() == (phantom_jpg / "hemorrhage_diagnosis.csv").read_bytes()
    assert "positive slices" in proc.stdout
    assert not list(tmp_path.glob(".data*")), "no partial files left behind"


def test_truncated_download_resumes(phantom_jpg: Path, server: Server, tmp_path: Path, cli) -> None:
    archive = _zip_release(phantom_jpg)
    server.files = {ARCHIVE_PATH: archive, SUMS_PATH: _sums(phantom_jpg)}
    server.cut_after = len(archive) // 3
    out = tmp_path / "data"
    first = cli("data", "fetch", "--version", VERSION, "--out", out, "--base-url", server.url)
    assert first.returncode == 2 and "interrupted" in first.stderr and "resume" in first.stderr
    assert not out.exists()
    second = cli("data", "fetch", "--version", VERSION, "--out", out, "--base-url", server.url)
    assert second.returncode == 0, second.stderr
    ranges = [r for p, r in server.requests if p == ARCHIVE_PATH]
    assert ranges == [None, f"bytes={len(archive) // 3}-"]
    assert (out / "Patients_CT" / "001" / "brain" / "1.jpg").exists()


def test_corrupted_archive_is_rejected(phantom_jpg: Path, server: Server, tmp_path: Path, cli) -> None:
    sums = _sums(phantom_jpg)
    (phantom_jpg / "Patients_CT" / "002" / "brain" / "2.jpg").write_bytes(b"\xff\xd8 corrupted")
    server.files = {ARCHIVE_PATH: _zip_release(phantom_jpg), SUMS_PATH: sums}
    out = tmp_path / "data"
    proc = cli("data", "fetch", "--version", VERSION, "--out", out, "--base-url", server.url)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "002/brain/2.jpg: SHA-256 mismatch" in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".data*"))


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil.txt", "ct-ich-1.0.0/../../evil.txt"])
def test_malicious_member_names_are_refused(phantom_jpg: Path, server: Server, tmp_path: Path, cli, name: str) -> None:
    server.files = {ARCHIVE_PATH: _zip_release(phantom_jpg, {name: b"x"}), SUMS_PATH: _sums(phantom_jpg)}
    out = tmp_path / "deep" / "data"
    proc = cli("data", "fetch", "--version", VERSION, "--out", out, "--base-url", server.url)
    assert proc.returncode == 2 and "unsafe member name" in proc.stderr
    assert not out.exists() and not (tmp_path / "evil.txt").exists() and not (tmp_path / "deep" / "evil.txt").exists()


def test_link_members_are_refused(phantom_jpg: Path, server: Server, tmp_path: Path, cli) -> None:
    base = _zip_release(phantom_jpg)
    path = tmp_path / "with_link.zip"
    path.write_bytes(base)
    with zipfile.ZipFile(path, "a") as zf:
        info = zipfile.ZipInfo("ct-ich-1.0.0/link")
        info.external_attr = 0o120777 << 16  # a symbolic link
        zf.writestr(info, "/etc/passwd")
    server.files = {ARCHIVE_PATH: path.read_bytes(), SUMS_PATH: _sums(phantom_jpg)}
    proc = cli("data", "fetch", "--version", VERSION, "--out", tmp_path / "data", "--base-url", server.url)
    assert proc.returncode == 2 and "is a link" in proc.stderr


def test_credentials_come_from_the_environment(tmp_path: Path, cli) -> None:
    proc = cli(
        "data",
        "fetch",
        "--version",
        "1.3.1",
        "--out",
        tmp_path / "d",
        "--base-url",
        "http://127.0.0.1:9",
        env={"PHYSIONET_USERNAME": "", "PHYSIONET_PASSWORD": ""},
    )
    assert proc.returncode == 2 and "PHYSIONET_USERNAME and PHYSIONET_PASSWORD" in proc.stderr
