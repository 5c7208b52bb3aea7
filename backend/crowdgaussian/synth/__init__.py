"""Ground-truth synthetic crowds: anny people in procedural clothing, rendered as Gaussians.

`make_crowd(seed, n_people)` (in `crowd`) is the entry point; see its module doc.
"""
