"""Body fitting: anny fitted to each person (pose, shape, placement) and exported as a Blender rig."""
from .fit import fit_bodies
from .make import make_body
from .model import load_body_model

__all__ = ["fit_bodies", "make_body", "load_body_model"]
