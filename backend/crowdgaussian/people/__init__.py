"""Find every person in a photo with mediapipe's BlazePose / BlazeFace / selfie tflite models."""
from .draw import draw_detections
from .find import find_people

__all__ = ["draw_detections", "find_people"]
