"""numba kernels of the CPU rasterizer: tile intersections, forward and backward compositing.

Layout (gsplat's, flattened over cameras): Gaussian id g = camera * N + gaussian; tile id
= camera * tiles_per_image + ty * tiles_x + tx. `offsets[tile]:offsets[tile+1]` indexes
`flat_ids`, the Gaussians touching that tile in front-to-back depth order (a stable
counting sort by tile of Gaussians pre-sorted by depth, so ties keep index order).

All arithmetic is float64 whatever the storage dtype. Each Gaussian is only evaluated on
the pixels inside its alpha >= 1/255 ellipse (sigma <= log(255 opacity): per tile row,
the chord of that ellipse, widened by 1e-6 relative + 1e-4 px against rounding). Pixels
outside it would fail the alpha test anyway, so the image is identical to testing every
pixel of the tile (as gsplat does), only cheaper.

Backward walks each tile back to front from the last contributing fragment of each pixel,
recovering transmittance by division (like 3DGS/gsplat), and writes each fragment's
gradient sum over the tile's pixels into its own row of a [n_fragments, 6 + D] buffer;
`reduce_fragments` then sums those rows per Gaussian. No atomics, memory ~ fragments.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

ALPHA_MAX = 0.999  # gsplat's clamp on a single fragment's alpha
ALPHA_MIN = 1.0 / 255.0  # fragments below this are skipped
T_MIN = 1e-4  # compositing stops before transmittance would fall to this
TILE_CHUNK = 4  # tiles handed to a thread at a time: balances uneven tiles and busy cores
GRAD_COLS = 6  # per fragment: d mean2d (2), d conic (3), d opacity (1), then d colour (D)


@nb.njit(cache=True)
def tile_rects(means2d: np.ndarray, radii: np.ndarray, tile_size: int, tiles_x: int,
               tiles_y: int) -> np.ndarray:
    """Per Gaussian [x0, x1, y0, y1] half-open tile range of its footprint's square (empty: culled)."""
    n = radii.shape[0]
    rects = np.zeros((n, 4), np.int64)
    for i in range(n):
        if radii[i] <= 0:
            continue
        tr = radii[i] / tile_size
        tx = means2d[i, 0] / tile_size
        ty = means2d[i, 1] / tile_size
        rects[i, 0] = min(max(0, int(math.floor(tx - tr))), tiles_x)
        rects[i, 1] = min(max(0, int(math.ceil(tx + tr))), tiles_x)
        rects[i, 2] = min(max(0, int(math.floor(ty - tr))), tiles_y)
        rects[i, 3] = min(max(0, int(math.ceil(ty + tr))), tiles_y)
    return rects


@nb.njit(cache=True)
def build_intersections(order: np.ndarray, rects: np.ndarray, n_per_cam: int, tiles_x: int,
                        tiles_per_cam: int, n_tiles: int):
    """Depth-sorted per-tile lists (offsets, flat_ids) and each Gaussian's fragment slots."""
    n = rects.shape[0]
    counts = np.zeros(n, np.int64)
    tile_counts = np.zeros(n_tiles + 1, np.int64)
    for g in order:
        base = (g // n_per_cam) * tiles_per_cam
        x0, x1, y0, y1 = rects[g, 0], rects[g, 1], rects[g, 2], rects[g, 3]
        counts[g] = max(0, x1 - x0) * max(0, y1 - y0)
        for ty in range(y0, y1):
            for tx in range(x0, x1):
                tile_counts[base + ty * tiles_x + tx + 1] += 1
    offsets = np.cumsum(tile_counts)
    gauss_start = np.zeros(n + 1, np.int64)
    gauss_start[1:] = np.cumsum(counts)
    n_frag = offsets[-1]
    flat_ids = np.empty(n_frag, np.int32)
    gauss_frags = np.empty(n_frag, np.int32)
    cursor = offsets[:-1].copy()
    for g in order:
        base = (g // n_per_cam) * tiles_per_cam
        j = gauss_start[g]
        for ty in range(rects[g, 2], rects[g, 3]):
            for tx in range(rects[g, 0], rects[g, 1]):
                t = base + ty * tiles_x + tx
                flat_ids[cursor[t]] = g
                gauss_frags[j] = cursor[t]
                cursor[t] += 1
                j += 1
    return offsets, flat_ids, gauss_start, gauss_frags


@nb.njit(cache=True, inline="always")
def _row_range(my: float, a: float, b: float, c: float, s_max: float, y_lo: int, y_hi: int):
    """Rows (inclusive, clipped to the tile) that can hold sigma <= s_max."""
    det = a * c - b * b
    if det <= 0.0 or a <= 0.0 or c <= 0.0:
        return y_lo, y_hi
    ey = math.sqrt(2.0 * s_max * a / det) * (1.0 + 1e-6) + 1e-4
    return max(y_lo, int(math.ceil(my - ey - 0.5))), min(y_hi, int(math.floor(my + ey - 0.5)))


@nb.njit(cache=True, inline="always")
def _col_range(dy: float, mx: float, a: float, b: float, c: float, s_max: float, x_lo: int,
               x_hi: int):
    """Columns of the row at offset dy = my - row centre that can hold sigma <= s_max."""
    det = a * c - b * b
    if det <= 0.0 or a <= 0.0 or c <= 0.0:
        return x_lo, x_hi
    root = math.sqrt(max(0.0, 2.0 * a * s_max - det * dy * dy))
    centre = -b * dy / a  # dx = mx - pixel centre at the chord's middle
    half = root / a * (1.0 + 1e-6) + 1e-4
    return (max(x_lo, int(math.ceil(mx - centre - half - 0.5))),
            min(x_hi, int(math.floor(mx - centre + half - 0.5))))


@nb.njit(cache=True, inline="always")
def _tile_bounds(tile, tiles_per_cam, tiles_x, tile_size, width, height):
    """(camera, first x, first y, last x, last y) of flat tile index `tile` (inclusive pixels)."""
    t = tile % tiles_per_cam
    x_lo = (t % tiles_x) * tile_size
    y_lo = (t // tiles_x) * tile_size
    return tile // tiles_per_cam, x_lo, y_lo, min(x_lo + tile_size, width) - 1, min(y_lo + tile_size, height) - 1


@nb.njit(cache=True, parallel=True)
def rasterize_forward(means2d, conics, colors, opacities, offsets, flat_ids, width, height,
                      tile_size, tiles_x, tiles_per_cam, out_color, out_trans, out_last):
    """Front-to-back compositing per tile into out_color [C,H,W,D], out_trans (final T) [C,H,W]
    and out_last [C,H,W] (index into flat_ids of the last composited fragment, -1 if none)."""
    n_tiles = offsets.shape[0] - 1
    n_ch = colors.shape[1]
    for tile in nb.prange(n_tiles):
        cam, x_lo, y_lo, x_hi, y_hi = _tile_bounds(tile, tiles_per_cam, tiles_x, tile_size, width, height)
        tw = x_hi - x_lo + 1
        n_px = tw * (y_hi - y_lo + 1)
        trans = np.ones(n_px)
        acc = np.zeros((n_px, n_ch))
        last = np.full(n_px, -1, np.int64)
        done = np.zeros(n_px, np.bool_)
        n_done = 0
        for k in range(offsets[tile], offsets[tile + 1]):
            g = flat_ids[k]
            op = float(opacities[g])
            if op < ALPHA_MIN:
                continue
            mx, my = float(means2d[g, 0]), float(means2d[g, 1])
            a, b, c = float(conics[g, 0]), float(conics[g, 1]), float(conics[g, 2])
            s_max = math.log(op * 255.0)
            py0, py1 = _row_range(my, a, b, c, s_max, y_lo, y_hi)
            for py in range(py0, py1 + 1):
                dy = my - (py + 0.5)
                px0, px1 = _col_range(dy, mx, a, b, c, s_max, x_lo, x_hi)
                for px in range(px0, px1 + 1):
                    p = (py - y_lo) * tw + (px - x_lo)
                    if done[p]:
                        continue
                    dx = mx - (px + 0.5)
                    sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
                    if sigma < 0.0:
                        continue
                    alpha = min(ALPHA_MAX, op * math.exp(-sigma))
                    if alpha < ALPHA_MIN:
                        continue
                    next_t = trans[p] * (1.0 - alpha)
                    if next_t <= T_MIN:
                        done[p] = True
                        n_done += 1
                        continue
                    w = alpha * trans[p]
                    for d in range(n_ch):
                        acc[p, d] += w * colors[g, d]
                    trans[p] = next_t
                    last[p] = k
            if n_done == n_px:
                break
        for py in range(y_lo, y_hi + 1):
            for px in range(x_lo, x_hi + 1):
                p = (py - y_lo) * tw + (px - x_lo)
                for d in range(n_ch):
                    out_color[cam, py, px, d] = acc[p, d]
                out_trans[cam, py, px] = trans[p]
                out_last[cam, py, px] = last[p]


@nb.njit(cache=True, parallel=True)
def rasterize_backward(means2d, conics, colors, opacities, offsets, flat_ids, width, height,
                       tile_size, tiles_x, tiles_per_cam, trans_final, last_idx, v_color,
                       v_trans, frag_grads):
    """Back-to-front gradient pass; frag_grads[k] gets fragment k's summed gradient row
    [d mean_x, d mean_y, d conic a, b, c, d opacity, d colour...]. v_trans [C,H,W] is the
    upstream gradient of the final transmittance (background and alpha outputs)."""
    n_tiles = offsets.shape[0] - 1
    n_ch = colors.shape[1]
    for tile in nb.prange(n_tiles):
        cam, x_lo, y_lo, x_hi, y_hi = _tile_bounds(tile, tiles_per_cam, tiles_x, tile_size, width, height)
        tw = x_hi - x_lo + 1
        n_px = tw * (y_hi - y_lo + 1)
        trans = np.empty(n_px)
        v_t_final = np.empty(n_px)
        last = np.empty(n_px, np.int64)
        vc = np.empty((n_px, n_ch))
        behind = np.zeros((n_px, n_ch))
        g_col = np.empty(n_ch)
        k_max = offsets[tile] - 1
        for py in range(y_lo, y_hi + 1):
            for px in range(x_lo, x_hi + 1):
                p = (py - y_lo) * tw + (px - x_lo)
                trans[p] = trans_final[cam, py, px]
                v_t_final[p] = -trans_final[cam, py, px] * v_trans[cam, py, px]
                last[p] = last_idx[cam, py, px]
                k_max = max(k_max, last[p])
                for d in range(n_ch):
                    vc[p, d] = v_color[cam, py, px, d]
        for k in range(k_max, offsets[tile] - 1, -1):
            g = flat_ids[k]
            op = float(opacities[g])
            if op < ALPHA_MIN:
                continue
            mx, my = float(means2d[g, 0]), float(means2d[g, 1])
            a, b, c = float(conics[g, 0]), float(conics[g, 1]), float(conics[g, 2])
            s_max = math.log(op * 255.0)
            py0, py1 = _row_range(my, a, b, c, s_max, y_lo, y_hi)
            g_mx = g_my = g_a = g_b = g_c = g_op = 0.0
            g_col[:] = 0.0
            for py in range(py0, py1 + 1):
                dy = my - (py + 0.5)
                px0, px1 = _col_range(dy, mx, a, b, c, s_max, x_lo, x_hi)
                for px in range(px0, px1 + 1):
                    p = (py - y_lo) * tw + (px - x_lo)
                    if k > last[p]:
                        continue
                    dx = mx - (px + 0.5)
                    sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
                    if sigma < 0.0:
                        continue
                    vis = math.exp(-sigma)
                    alpha = min(ALPHA_MAX, op * vis)
                    if alpha < ALPHA_MIN:
                        continue
                    ra = 1.0 / (1.0 - alpha)
                    trans[p] *= ra
                    w = alpha * trans[p]
                    v_alpha = v_t_final[p] * ra
                    for d in range(n_ch):
                        col = float(colors[g, d])
                        v_alpha += vc[p, d] * (col * trans[p] - behind[p, d] * ra)
                        behind[p, d] += col * w
                        g_col[d] += w * vc[p, d]
                    if op * vis <= ALPHA_MAX:
                        v_sigma = -op * vis * v_alpha
                        g_a += 0.5 * dx * dx * v_sigma
                        g_b += dx * dy * v_sigma
                        g_c += 0.5 * dy * dy * v_sigma
                        g_mx += v_sigma * (a * dx + b * dy)
                        g_my += v_sigma * (b * dx + c * dy)
                        g_op += vis * v_alpha
            frag_grads[k, 0] = g_mx
            frag_grads[k, 1] = g_my
            frag_grads[k, 2] = g_a
            frag_grads[k, 3] = g_b
            frag_grads[k, 4] = g_c
            frag_grads[k, 5] = g_op
            for d in range(n_ch):
                frag_grads[k, GRAD_COLS + d] = g_col[d]


@nb.njit(cache=True, parallel=True)
def reduce_fragments(frag_grads, gauss_start, gauss_frags, out):
    """out[g] = sum of frag_grads rows over Gaussian g's fragments (parallel over Gaussians)."""
    n_cols = frag_grads.shape[1]
    for g in nb.prange(out.shape[0]):
        for j in range(gauss_start[g], gauss_start[g + 1]):
            k = gauss_frags[j]
            for col in range(n_cols):
                out[g, col] += frag_grads[k, col]
