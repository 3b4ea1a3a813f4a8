"""Benchmark of probes.vision.imaging: agreement with the labelled images in ../shared/data and images/s at 1080p and 4K.

Usage: .venv/bin/python benchmarks/imaging.py [--data DIR] [--reader] [--verbose]

Labels: the data has no boolean `plate_legible` column, so the expected value is derived from the
columns that say it (see benchmarks/README.md, section "Image quality"):
  plate legible = a person or the source read the main plate (`plate_text` filled) and neither
  `conditions` says plate_barely_legible nor `blur_label` says "blurred";
  plate NOT legible = CCPD-Blur "blurred" images, "none (no plate)" images, conditions
  plate_barely_legible, and the street-camera overviews ("plates mostly too small to read");
  other rows (no text, no blur/size statement) are unlabelled and left out.
  faces visible = `faces_visible` starts with "visible" or "partly visible"; not visible =
  "not visible", "barely visible", "no (too small)", "present_but_anonymized"; "n/a" rows are left out.
"""
import argparse
import csv
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleetops.domain import quality as rules  # noqa: E402
from probes.vision import imaging  # noqa: E402

T = imaging.Thresholds.from_mapping(rules.DEFAULT_THRESHOLDS)  # the contract's numbers, defined in the domain


def plate_label(row: dict) -> bool | None:
    cond = row.get("conditions", "")
    colour = row.get("plate_color", "")
    blur = row.get("blur_label", "")
    notes = row.get("notes", "")
    if colour.startswith("none"):
        return False
    if "plate_barely_legible" in cond or blur.startswith("blurred"):
        return False
    if "too small to read" in notes:
        return False
    if row.get("plate_text", "").strip():
        return True
    return None


def face_label(row: dict) -> bool | None:
    v = row.get("faces_visible", "").strip().lower()
    if not v or v.startswith("n/a"):
        return None
    if v.startswith("visible") or v.startswith("partly visible"):
        return True
    if v.startswith(("not visible", "barely visible", "no", "present_but_anonymi")):
        return False
    return None


def night(row: dict) -> str:
    dn = row.get("day_night", "")
    return "day" if dn.startswith("day") else "night"


def confusion(pairs):
    m = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for expected, got in pairs:
        m[("t" if expected == got else "f") + ("p" if got else "n")] += 1
    n = sum(m.values())
    return m, ((m["tp"] + m["tn"]) / n if n else float("nan")), n


def print_confusion(title, pairs):
    for part in ("day", "night", "all"):
        sel = [(e, g) for e, g, dn in pairs if part == "all" or dn == part]
        m, acc, n = confusion(sel)
        print(f"  {title:16s} {part:5s} n={n:3d} agreement={acc * 100:5.1f}%  "
              f"label yes→yes {m['tp']:3d}  no→no {m['tn']:3d}  no→yes {m['fp']:3d}  yes→no {m['fn']:3d}")


def load_rows(data: Path):
    rows = []
    for sub in ("plates", "faces"):
        with open(data / sub / "labels.csv", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                row["_path"] = data / sub / row["file"]
                rows.append(row)
    return rows


def throughput(paths: list[Path], size: tuple[int, int], seconds: float = 5.0, faces: bool = True) -> dict:
    """Decode + all scores (no reader) of JPEGs at `size`: CPU ms per image on one core, and images/s with one
    worker thread per core (OpenCV releases the GIL), as the sampling service runs it."""
    import cv2

    frames = [imaging.encode_jpeg(cv2.resize(imaging.read_image_file(str(p)), size), 90) for p in paths]
    cv2.setNumThreads(1)
    n, cpu_start = 0, time.process_time()
    wall_start = time.perf_counter()
    while time.perf_counter() - wall_start < seconds / 2:
        imaging.score_image(imaging.decode_image(frames[n % len(frames)]), T, faces=faces)
        n += 1
    cpu_ms = (time.process_time() - cpu_start) / n * 1000
    workers = os.cpu_count() or 1
    done = 0
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        while time.perf_counter() - start < seconds / 2:
            done += len(list(pool.map(lambda d: imaging.score_image(imaging.decode_image(d), T, faces=faces),
                                      frames * workers)))
    rate = done / (time.perf_counter() - start)
    cv2.setNumThreads(os.cpu_count() or 1)
    return {"cpu_ms": cpu_ms, "per_core": 1000 / cpu_ms, "parallel": rate, "workers": workers}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--reader", action="store_true", help="also read plate text with the optional reader")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    reader = None
    if args.reader:
        from probes.vision import plate_reader

        reader = plate_reader.default_reader()
        print(f"reader: {reader.name if reader else 'none available'}")
    plate_pairs, face_pairs, times = [], [], []
    for row in load_rows(args.data):
        pl, fl = plate_label(row), face_label(row)
        if pl is None and fl is None:
            continue
        start = time.perf_counter()
        result = imaging.score_file(str(row["_path"]), T, reader=reader)
        times.append(time.perf_counter() - start)
        if "error" in result:
            print(f"  {row['file']}: ERROR {result['error']}")
            continue
        if pl is not None:
            plate_pairs.append((pl, result["plate_legible"], night(row)))
        if fl is not None:
            face_pairs.append((fl, result["faces_visible"], night(row)))
        if args.verbose:
            main_plate = result["plates"][0] if result["plates"] else None
            print(f"  {row['file']:28s} plate label={pl!s:5s} got={result['plate_legible']!s:5s} "
                  f"face label={fl!s:5s} got={result['faces_visible']!s:5s} "
                  f"{main_plate and (main_plate['bbox'], main_plate['width_px'], main_plate['char_contrast'], main_plate['sharpness'])} "
                  f"faces={[(f['size_px'], f['sharpness'], f['mean_luma']) for f in result['faces']][:3]}")
    print("Agreement with labels (derived as described in benchmarks/README.md):")
    print_confusion("plate_legible", plate_pairs)
    print_confusion("faces_visible", face_pairs)
    print(f"labelled images scored: {len(times)}, median {statistics.median(times) * 1000:.0f} ms/image")
    samples = [args.data / "plates" / "easypr_031.jpg", args.data / "faces" / "toll_front_02.png",
               args.data / "faces" / "checkpoint_day_01.jpg"]
    print(f"load average before the speed test: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for size, faces in (((1920, 1080), True), ((4096, 2160), True), ((1920, 1080), False), ((4096, 2160), False)):
        r = throughput(samples, size, faces=faces)
        what = "all scores" if faces else "all but the face search (the sampling job by day)"
        print(f"throughput {size[0]}x{size[1]} JPEG (decode + {what}, no reader): {r['cpu_ms']:.0f} ms CPU/image "
              f"= {r['per_core']:.1f} images/s per core; {r['parallel']:.1f} images/s with {r['workers']} threads")


if __name__ == "__main__":
    main()
