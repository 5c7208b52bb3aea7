"""CrowdGaussian: one photo of several people -> rigged, animatable 3D Gaussian avatars."""
__version__ = "0.1.0"
