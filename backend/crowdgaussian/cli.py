"""`crowdgaussian` command line: reconstruct | doctor | install-models.

Exit codes: 0 success, 2 a user-facing error (one line on stderr, or {"error"} in JSON
mode), 1 an internal error (traceback in the log), 130 interrupted.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import sys
import traceback
from pathlib import Path

from . import __version__
from .errors import CrowdGaussianError
from .progress import Progress

# Optional user-supplied weights the doctor looks for (under the models folder).
OPTIONAL_WEIGHTS = {
    "smplx": "SMPL-X model files (smplx/SMPLX_NEUTRAL.npz)",
    "sam": "Segment Anything checkpoint (sam/*.pth)",
    "lhm": "LHM-family reconstruction checkpoint (lhm/)",
    "lorm_lora": "LORM LoRA adapter (lorm_lora/adapter_model.safetensors)",
    "sd-turbo": "SD-Turbo in diffusers format (sd-turbo/model_index.json)",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crowdgaussian",
        description="Turn one photo of several people into rigged, animatable 3D Gaussian avatars "
                    "(a scene bundle that the CrowdGaussian Blender extension imports).")
    p.add_argument("--version", action="version", version=f"crowdgaussian {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("reconstruct", help="reconstruct every person in a photo into a scene bundle",
                       description="Reconstruct every person in IMAGE into the scene bundle folder OUT_DIR "
                                   "(manifest.json, per-person Gaussians/body/rig/skin/mask, previews/).")
    r.add_argument("image", metavar="IMAGE", help="the photo (JPEG, PNG, TIFF, WebP, ...; EXIF rotation is applied)")
    r.add_argument("-o", "--output", required=True, metavar="OUT_DIR",
                   help="bundle folder to create; must not exist unless --overwrite")
    r.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="where to compute: auto picks cuda when a CUDA GPU and gsplat are available (default: auto)")
    r.add_argument("--max-persons", type=int, default=None, metavar="N",
                   help="keep at most the N most confident people (default: everyone found)")
    r.add_argument("--quality", default="default", choices=["fast", "default", "high"],
                   help="Gaussians per person and fitting effort (default: default)")
    r.add_argument("--progress", default="bar", choices=["bar", "json", "none"],
                   help="bar: a progress bar on stderr; json: one JSON object per line on stdout "
                        "(stage, progress, message; finally result or error) for the Blender add-on")
    r.add_argument("--overwrite", action="store_true", help="replace OUT_DIR if it exists")
    r.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")

    d = sub.add_parser("doctor", help="report versions, CUDA, installed model files and optional weights")
    d.add_argument("--progress", default="bar", choices=["bar", "json", "none"],
                   help="json: print the report as one JSON object on stdout")

    m = sub.add_parser("install-models", help="set-up step: extract the default person models from the "
                                              "mediapipe wheel (downloads it with pip unless --wheel is given)")
    m.add_argument("--wheel", type=Path, default=None, help="a local mediapipe-0.10.21 wheel to extract from")
    return p


def doctor_report() -> dict:
    """Versions, devices (and which one --device auto picks) and which model files are present."""
    import torch

    from .models import missing_mediapipe_models, models_dir
    from .pipeline import resolve_device
    from .render import gsplat_available

    def version(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    root = models_dir()
    return {
        "crowdgaussian": __version__,
        "python": sys.version.split()[0],
        "packages": {n: version(n) for n in ("torch", "numpy", "anny", "ai-edge-litert", "numba", "gsplat")},
        "cuda_available": bool(torch.cuda.is_available()),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        # whether gsplat's CUDA kernels load (building them on first use); null without a GPU
        "gsplat_kernels": gsplat_available() if torch.cuda.is_available() else None,
        "auto_device": resolve_device("auto"),
        "models_dir": str(root),
        "default_models_missing": missing_mediapipe_models(),
        "optional_weights": {k: {"found": (root / k).exists(), "what": v} for k, v in OPTIONAL_WEIGHTS.items()},
    }


def _reconstruct(args: argparse.Namespace, progress: Progress) -> Path:
    from .pipeline import reconstruct

    if args.max_persons is not None and args.max_persons < 1:
        raise CrowdGaussianError("--max-persons must be at least 1")
    return reconstruct(args.image, args.output, device=args.device, max_persons=args.max_persons,
                       quality=args.quality, overwrite=args.overwrite, progress=progress)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `crowdgaussian` script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s",
                        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING)
    json_mode = getattr(args, "progress", "bar") == "json"
    if args.command == "reconstruct":
        from .pipeline import STAGES

        progress = Progress(STAGES, mode=args.progress)
    else:
        progress = Progress({"run": 1.0}, mode="json" if json_mode else "none")
    try:
        if args.command == "reconstruct":
            bundle = _reconstruct(args, progress)
            progress.close()
            if json_mode:
                progress.send({"result": str(bundle)})
            else:
                print(f"bundle: {bundle}\npreviews: {bundle / 'previews'}")
        elif args.command == "doctor":
            report = doctor_report()
            if json_mode:
                progress.send({"result": report})
            else:
                print(json.dumps(report, indent=2))
        elif args.command == "install-models":
            from .models import install_mediapipe_models

            print(f"models installed in {install_mediapipe_models(args.wheel)}")
        return 0
    except CrowdGaussianError as exc:
        progress.close()
        if json_mode:
            progress.send({"error": str(exc)})
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        progress.close()
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one readable line, traceback in the log
        progress.close()
        traceback.print_exc(file=sys.stderr)
        message = f"internal error: {type(exc).__name__}: {exc}"
        if json_mode:
            progress.send({"error": message})
        print(f"error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
