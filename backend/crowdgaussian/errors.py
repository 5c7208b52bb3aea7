"""User-facing errors: one readable line, shown by the CLI and the Blender add-on."""


class CrowdGaussianError(Exception):
    """An error the user can act on (bad input, missing weights, no people found...)."""
