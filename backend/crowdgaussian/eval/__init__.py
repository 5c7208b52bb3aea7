"""Quality evaluation: paper metrics, the Appendix-A occlusion simulator, the 24-view protocol, the benchmark."""
