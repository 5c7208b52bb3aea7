"""Stand-in for `crowdgaussian` that speaks the JSON-lines protocol (drives the add-on in tests).

    fake_backend.py --mode ok|error|hang|crash --bundle SRC --argv-log FILE reconstruct IMAGE -o OUT ...
    fake_backend.py --mode doctor doctor --progress json
ok copies the bundle SRC to OUT and reports it; error reports a one-line error (exit 2);
hang keeps reporting slowly (to be cancelled); crash dies with a traceback on stderr.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time


def say(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--mode", required=True)
    p.add_argument("--bundle", default="")
    p.add_argument("--argv-log", default="")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    args = p.parse_args()
    if args.argv_log:
        with open(args.argv_log, "w", encoding="utf-8") as fh:
            json.dump(args.rest, fh)
    if args.mode == "doctor":
        say({"result": {"crowdgaussian": "0.1.0", "python": "3.11.9", "packages": {"torch": "2.13.0+cpu"},
                        "cuda_available": False, "cuda_device": None, "gsplat_kernels": None,
                        "auto_device": "cpu", "default_models_missing": [],
                        "optional_weights": {"smplx": {"found": False, "what": "SMPL-X"},
                                             "sam": {"found": True, "what": "SAM"}}}})
        return 0
    out = args.rest[args.rest.index("-o") + 1]
    print("fake backend starting", file=sys.stderr, flush=True)
    for i, stage in enumerate(("people", "bodies", "gaussians")):
        say({"stage": stage, "progress": round(0.3 * i + 0.1, 2), "message": f"working on {stage}"})
        print(f"log line {i}", flush=True)  # not JSON: must be ignored
        time.sleep(0.05)
        if args.mode == "hang":
            time.sleep(60)
    if args.mode == "error":
        say({"error": "no people found in the photo"})
        print("error: no people found in the photo", file=sys.stderr)
        return 2
    if args.mode == "crash":
        print("Traceback (most recent call last):\nZeroDivisionError: division by zero", file=sys.stderr)
        return 1
    shutil.copytree(args.bundle, out, dirs_exist_ok=True)
    say({"stage": "bundle", "progress": 1.0, "message": "written"})
    say({"result": out})
    return 0


if __name__ == "__main__":
    sys.exit(main())
