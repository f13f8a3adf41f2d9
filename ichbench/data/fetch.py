"""Download a CT-ICH release from PhysioNet: resumable, checksum-verified, safely unpacked."""

from __future__ import annotations

import base64
import os
import stat
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ichbench.atomic import file_sha256
from ichbench.errors import DataError

PHYSIONET = "https://physionet.org"
ARCHIVE = "computed-tomography-images-for-intracranial-hemorrhage-detection-and-segmentation-{v}.zip"
CREDENTIAL_VARS = ("PHYSIONET_USERNAME", "PHYSIONET_PASSWORD")


@dataclass(frozen=True)
class Release:
    """Where one release's archive and checksum list live."""

    version: str
    needs_credentials: bool

    def archive_url(self, base: str) -> str:
        """URL of the zip archive."""
        return f"{base}/static/published-projects/ct-ich/{ARCHIVE.format(v=self.version)}"

    def sums_url(self, base: str) -> str:
        """URL of the SHA-256 checksum list of the release's files."""
        return f"{base}/files/ct-ich/{self.version}/SHA256SUMS.txt"


RELEASES = {"1.0.0": Release("1.0.0", False), "1.3.1": Release("1.3.1", True)}


def fetch(version: str, out: Path, base_url: str | None = None) -> Path:
    """Download, verify and unpack a release into `out`; returns the data folder."""
    if version not in RELEASES:
        raise DataError(f"unknown CT-ICH version {version!r}; choose one of {', '.join(RELEASES)}")
    release, out = RELEASES[version], Path(out)
    base = (base_url or os.environ.get("ICHBENCH_PHYSIONET_URL") or PHYSIONET).rstrip("/")
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out}: output folder exists and is not empty")
    headers = _auth_headers(release)
    out.parent.mkdir(parents=True, exist_ok=True)
    archive = out.parent / f".{out.name}.{version}.zip.part"
    download(release.archive_url(base), archive, headers)
    sums = parse_sums(_get(release.sums_url(base), headers).decode("utf-8", "replace"), release.sums_url(base))
    try:
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.unpack.") as tmp:
            safe_unzip(archive, Path(tmp))
            root = _release_root(Path(tmp), archive)
            verify(root, sums)
            if out.exists():
                out.rmdir()
            os.replace(root, out)
    finally:
        # Whole but bad archives are not kept: the next attempt downloads afresh.
        archive.unlink(missing_ok=True)
    return out


def _auth_headers(release: Release) -> dict[str, str]:
    user, password = (os.environ.get(v) for v in CREDENTIAL_VARS)
    if release.needs_credentials and not (user and password):
        raise DataError(
            f"CT-ICH {release.version} needs PhysioNet credentials: set the environment variables "
            f"{' and '.join(CREDENTIAL_VARS)} (never pass them on the command line)"
        )
    if not (user and password):
        return {}
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _get(url: str, headers: dict[str, str]) -> bytes:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as resp:
            return resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(f"{url}: download failed ({exc})") from None


def download(url: str, part: Path, headers: dict[str, str], chunk: int = 1 << 20) -> None:
    """Download url into `part`, resuming from its current size with an HTTP Range request."""
    have = part.stat().st_size if part.exists() else 0
    request_headers = dict(headers, **({"Range": f"bytes={have}-"} if have else {}))
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=request_headers), timeout=60)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch: the file is already whole
            return
        raise DataError(f"{url}: download failed (HTTP {exc.code} {exc.reason})") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(f"{url}: download failed ({exc})") from None
    with resp:
        resumed = resp.status == 206
        expected = resp.headers.get("Content-Length")
        got = 0
        with part.open("ab" if resumed else "wb") as fh:
            try:
                while data := resp.read(chunk):
                    fh.write(data)
                    got += len(data)
            except (OSError, urllib.error.URLError) as exc:
                raise DataError(f"{url}: download interrupted ({exc}); run the same command to resume") from None
    if expected is not None and got < int(expected):
        raise DataError(f"{url}: download interrupted after {have + got} bytes; run the same command again to resume")


def parse_sums(text: str, source: str) -> dict[str, str]:
    """'HASH  path' lines -> {relative path: hash}."""
    sums = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(f"{source}: line {line_no} is not a SHA-256 checksum line: {line[:80]!r}")
        sums[parts[1].strip().lstrip("*").removeprefix("./")] = parts[0].lower()
    if not sums:
        raise DataError(f"{source}: the checksum list is empty")
    return sums


def safe_unzip(archive: Path, dest: Path) -> None:
    """Unpack a zip, refusing absolute paths, '..' components and links in member names."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_member(archive, info)
            zf.extractall(dest)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{archive}: not a valid zip archive ({exc}); it was removed, fetch again") from None


def _check_member(archive: Path, info: zipfile.ZipInfo) -> None:
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise DataError(f"{archive}: unsafe member name {name!r} (absolute or with '..'); nothing was unpacked")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise DataError(f"{archive}: member {name!r} is a link; nothing was unpacked")


def _release_root(tmp: Path, archive: Path) -> Path:
    for csv_name in ("hemorrhage_diagnosis.csv", "hemorrhage_diagnosis_raw_ct.csv"):
        found = sorted(tmp.rglob(csv_name), key=lambda p: len(p.parts))
        if found:
            return found[0].parent
    raise DataError(f"{archive}: the archive holds no CT-ICH release (no hemorrhage_diagnosis CSV)")


def verify(root: Path, sums: dict[str, str]) -> None:
    """Check every listed file's SHA-256 below root."""
    for rel, want in sorted(sums.items()):
        path = root / rel
        if not path.is_file():
            raise DataError(f"{path}: listed in the checksum list but missing from the archive")
        if file_sha256(path) != want:
            raise DataError(f"{path}: SHA-256 mismatch (archive corrupted); expected {want[:16]}...")
