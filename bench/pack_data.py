"""Pack a data folder into tar parts of at most a given size, and unpack them, checked, on the other side.

    python bench/pack_data.py pack DATA PARTS [--max-mib 40] [--only brain]
    python bench/pack_data.py unpack PARTS DEST

A lent GPU machine takes at most 64 MiB of files a call (the checkout included), and CT-ICH v1.0.0 is
114 MB (72 MB without the bone-window slices, which the paper protocol does not read). `pack` writes
PARTS/part-NNN.tar (uncompressed: JPGs do not shrink) and PARTS/manifest.json (every file's SHA-256 and
part); each call carries one part into PARTS, and `unpack` extracts them all once every part is there,
checking every file against the manifest. `--only brain` leaves out the files whose path has a `bone`
folder: the data set is then smaller, and its fingerprint is that of the folder without them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tarfile
from pathlib import Path

MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def plan_parts(sizes: dict[str, int], max_bytes: int) -> list[list[str]]:
    """Files (in name order) into consecutive parts of at most max_bytes each (a tar header of 512 bytes and
    the padding to 512 counted per file, and the archive's 10 KiB end); a larger file is an error."""
    parts: list[list[str]] = [[]]
    used = 10240
    for name in sorted(sizes):
        cost = 512 + -(-sizes[name] // 512) * 512
        if cost + 10240 > max_bytes:
            raise SystemExit(f"{name}: {sizes[name]} bytes do not fit a part of {max_bytes} bytes")
        if used + cost > max_bytes:
            parts.append([])
            used = 10240
        parts[-1].append(name)
        used += cost
    return [p for p in parts if p]


def pack(data: Path, out: Path, max_mib: float, only: str | None) -> list[Path]:
    """Write the parts and the manifest; returns the parts' paths."""
    files = [p for p in sorted(data.rglob("*")) if p.is_file() and not p.name.startswith(".")]
    if only == "brain":
        files = [p for p in files if "bone" not in p.relative_to(data).parts]
    sizes = {p.relative_to(data).as_posix(): p.stat().st_size for p in files}
    out.mkdir(parents=True, exist_ok=True)
    written, manifest = [], {"files": {}, "parts": []}
    for i, names in enumerate(plan_parts(sizes, int(max_mib * 2**20))):
        part = out / f"part-{i:03d}.tar"
        with tarfile.open(part, "w", format=tarfile.USTAR_FORMAT) as tar:
            for name in names:
                tar.add(data / name, arcname=name, recursive=False)
                manifest["files"][name] = {"sha256": _sha256(data / name), "part": part.name}
        manifest["parts"].append(part.name)
        written.append(part)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return written


def unpack(parts: Path, dest: Path) -> int:
    """Extract every part into dest and check each file; returns the number of files."""
    manifest = json.loads((parts / MANIFEST).read_text())
    missing = [p for p in manifest["parts"] if not (parts / p).is_file()]
    if missing:
        raise SystemExit(f"{parts}: parts not here yet: {', '.join(missing)}")
    dest.mkdir(parents=True, exist_ok=True)
    for name in manifest["parts"]:
        with tarfile.open(parts / name) as tar:
            tar.extractall(dest, filter="data")
    bad = [n for n, f in manifest["files"].items() if _sha256(dest / n) != f["sha256"]]
    if bad:
        raise SystemExit(f"{dest}: {len(bad)} file(s) differ from the manifest, first {bad[0]}")
    return len(manifest["files"])


def main(argv: list[str]) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("pack")
    p.add_argument("data", type=Path)
    p.add_argument("parts", type=Path)
    p.add_argument("--max-mib", type=float, default=40.0)
    p.add_argument("--only", choices=["brain"], default=None)
    u = sub.add_parser("unpack")
    u.add_argument("parts", type=Path)
    u.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    if args.verb == "pack":
        for part in pack(args.data, args.parts, args.max_mib, args.only):
            print(f"{part}: {part.stat().st_size / 2**20:.1f} MiB")
    else:
        print(f"{unpack(args.parts, args.dest)} files checked into {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
