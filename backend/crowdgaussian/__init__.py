"""CrowdGaussian: one photo of several people -> rigged, animatable 3D Gaussian avatars."""
import os

# torch and numba share libgomp; spinning idle OpenMP threads made the CPU rasterizer 2-5x
# slower (measured). Must be set before torch loads, so it lives at package import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
