"""The Gaussian look: a Geometry Nodes group that turns skinned carrier triangles into splats,
and the two materials that shade each splat as opacity · exp(-½ d²) with its SH colour (DC plus
the photo tint, bands 1-2, at the view direction).

Each splat is carried by one triangle (v0 = mean, v1/v2 = mean + EDGE · first/second axis
of its rotation) that the Armature modifier deforms; the group reads each deformed
triangle back into a position and a rotation (Axes to Rotation of its two edges), so the
splats' positions AND orientations follow the rig. Two render representations:
- instances of an ico sphere whose inscribed sphere is 3σ (EEVEE, material render method
  Blended: instances are sorted by centre like 3DGS does; the best match to a rasterizer);
- point-cloud spheres of radius 3σ_max carrying the whitening axes as attributes (Cycles:
  much faster than ray tracing ico instances). `handlers.py` picks one per render engine.
The photo tint is read at the view direction in the splat's own frame (the bundle reader turned
its SH bands into that frame), so posing turns it with the splat.
The material integrates nothing: like 3DGS it evaluates the Gaussian at the point of the
camera ray closest to its centre (in whitened coordinates d² = |p|² − (p·v̂)²). The 3DGS
0.3 px² screen-space blur is folded into σ for the photo camera (exact for that camera only).
"""
from __future__ import annotations

import math

import bpy

from .bundle import SH_BASIS, SH_Y6_CONSTANT

GROUP_NAME = "CrowdGaussian Splats"
MAT_INSTANCES = "CrowdGaussian Splat (instances)"
MAT_POINTS = "CrowdGaussian Splat (points)"
EDGE = 0.01  # carrier triangle edge length (m)
ICO_RADIUS = 1.0 / 0.7946544722917661  # icosahedron whose inscribed sphere has radius 1
SCREEN_BLUR_PX2 = 0.3  # 3DGS adds 0.3 px² to each 2D covariance; folded into σ per camera
INPUTS = (  # name, socket type, default, description
    ("Point Spheres", "NodeSocketBool", False, "Render as point-cloud spheres (Cycles) instead of ico instances (EEVEE)"),
    ("Viewport Points", "NodeSocketBool", False, "Fast viewport display as plain point spheres"),
    ("Camera", "NodeSocketObject", None, "Camera whose screen blur is folded into the splats"),
    ("Screen Blur", "NodeSocketFloat", 0.0, "sqrt(0.3 px²) / focal length in render pixels (m per m of depth)"),
    ("Photo Tint", "NodeSocketFloat", 1.0, "How much of the photo tint to draw: 1 matches the photo from its camera; "
     "lower it for other views, where the tint of splats on the photo's outlines can show as speckles"),
)


class _Builder:
    """Small helper to create and link nodes in a node tree."""

    def __init__(self, tree: bpy.types.NodeTree) -> None:
        self.tree = tree

    def node(self, kind: str, inputs: dict | None = None, **props) -> bpy.types.Node:
        """New node of `kind` with properties set, then inputs linked (sockets) or set (values)."""
        n = self.tree.nodes.new(kind)
        for key, value in props.items():
            setattr(n, key, value)
        for key, value in (inputs or {}).items():
            sock = n.inputs[key]
            if isinstance(value, bpy.types.NodeSocket):
                self.tree.links.new(value, sock)
            else:
                sock.default_value = value
        return n

    def math(self, op: str, *args) -> bpy.types.NodeSocket:
        """Scalar math node output with inputs `args` (sockets or numbers)."""
        return self.node("ShaderNodeMath", dict(enumerate(args)), operation=op).outputs[0]

    def vmath(self, op: str, a, b=None, out: int = 0) -> bpy.types.NodeSocket:
        """Vector math node output (out=1 is the scalar 'Value' of DOT_PRODUCT/LENGTH/DISTANCE)."""
        ins = {0: a} if b is None else {0: a, 1: b}
        n = self.node("ShaderNodeVectorMath", ins, operation=op)
        return n.outputs["Value" if out else "Vector"]


def _geometry_group() -> bpy.types.NodeTree:
    """Build (once per file) the node group: carrier triangles -> splat instances or points."""
    tree = bpy.data.node_groups.new(GROUP_NAME, "GeometryNodeTree")
    tree.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    for name, kind, default, desc in INPUTS:
        sock = tree.interface.new_socket(name, in_out="INPUT", socket_type=kind, description=desc)
        if default is not None:
            sock.default_value = default
        if kind == "NodeSocketFloat":
            sock.min_value = 0.0
            if name == "Photo Tint":
                sock.max_value = 1.0
    tree.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    b = _Builder(tree)
    gin = b.node("NodeGroupInput")
    gout = b.node("NodeGroupOutput")
    mesh = gin.outputs["Geometry"]

    points = b.node("GeometryNodeMeshToPoints", {"Mesh": mesh}, mode="FACES").outputs["Points"]
    # the Photo Tint amount travels in cg_color's alpha (EEVEE reads at most eight instancer attributes)
    rgb = b.node("GeometryNodeInputNamedAttribute", {"Name": "cg_color"}, data_type="FLOAT_COLOR").outputs[0]
    sep = b.node("FunctionNodeSeparateColor", {0: rgb})
    rgba = b.node("FunctionNodeCombineColor", {0: sep.outputs[0], 1: sep.outputs[1], 2: sep.outputs[2],
                                               3: gin.outputs["Photo Tint"]}).outputs[0]
    points = b.node("GeometryNodeStoreNamedAttribute", {"Geometry": points, "Name": "cg_color", "Value": rgba},
                    data_type="FLOAT_COLOR", domain="POINT").outputs[0]
    first = b.math("MULTIPLY", b.node("GeometryNodeInputIndex").outputs[0], 3.0)
    corners = []
    for k in range(3):
        index = first if k == 0 else b.math("ADD", first, float(k))
        sample = b.node("GeometryNodeSampleIndex", {"Geometry": mesh, "Index": index},
                        data_type="FLOAT_VECTOR", domain="POINT")
        b.tree.links.new(b.node("GeometryNodeInputPosition").outputs[0], sample.inputs["Value"])
        corners.append(sample.outputs[0])
    centre = corners[0]
    edge1, edge2 = b.vmath("SUBTRACT", corners[1], centre), b.vmath("SUBTRACT", corners[2], centre)
    rotation = _axes_to_rotation(b, edge1, edge2)
    points = b.node("GeometryNodeSetPosition", {"Geometry": points, "Position": centre}).outputs[0]

    # σ' = sqrt(σ² + (blur · distance to camera)²): the 3DGS screen blur for that camera.
    sigma = b.node("GeometryNodeInputNamedAttribute", {"Name": "cg_scale"}, data_type="FLOAT_VECTOR").outputs[0]
    cam = b.node("GeometryNodeObjectInfo", {"Object": gin.outputs["Camera"]}, transform_space="RELATIVE")
    blur = b.math("MULTIPLY", gin.outputs["Screen Blur"], b.vmath("DISTANCE", centre, cam.outputs["Location"], out=1))
    blur2 = b.math("MULTIPLY", blur, blur)
    sep = b.node("ShaderNodeSeparateXYZ", {0: sigma})
    comps = [b.math("SQRT", b.math("MULTIPLY_ADD", sep.outputs[i], sep.outputs[i], blur2)) for i in range(3)]
    sigma_b = b.node("ShaderNodeCombineXYZ", {0: comps[0], 1: comps[1], 2: comps[2]}).outputs[0]

    # EEVEE representation: ico sphere instances, 3σ' in every axis.
    ico = b.node("GeometryNodeMeshIcoSphere", {"Radius": ICO_RADIUS, "Subdivisions": 1}).outputs["Mesh"]
    ico = b.node("GeometryNodeSetMaterial", {"Geometry": ico, "Material": splat_material(points=False)}).outputs[0]
    scale3 = b.node("ShaderNodeVectorMath", {0: sigma_b, "Scale": 3.0}, operation="SCALE").outputs[0]
    instances = b.node("GeometryNodeInstanceOnPoints", {"Points": points, "Instance": ico, "Rotation": rotation,
                                                        "Scale": scale3}).outputs[0]

    # Cycles representation: spheres of radius 3σ'_max (cut where opacity·exp(-½d²) < 1/255)
    # carrying the whitening axes a_i = R e_i / σ'_i in object space.
    opacity = b.node("GeometryNodeInputNamedAttribute", {"Name": "cg_opacity"}, data_type="FLOAT").outputs[0]
    cut = b.math("MINIMUM", 3.0, b.math("SQRT", b.math("MAXIMUM", 0.0, b.math(
        "MULTIPLY", 2.0, b.math("LOGARITHM", b.math("MULTIPLY", opacity, 255.0), math.e)))))
    radius = b.math("MULTIPLY", cut, b.math("MAXIMUM", comps[0], b.math("MAXIMUM", comps[1], comps[2])))
    spheres = b.node("GeometryNodeSetPointRadius", {"Points": points, "Radius": radius}).outputs[0]
    for i, axis in enumerate(((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))):
        world_axis = b.node("FunctionNodeRotateVector", {"Vector": axis, "Rotation": rotation}).outputs[0]
        inv = b.math("DIVIDE", 1.0, comps[i])
        whitening = b.node("ShaderNodeVectorMath", {0: world_axis, "Scale": inv}, operation="SCALE").outputs[0]
        spheres = b.node("GeometryNodeStoreNamedAttribute", {"Geometry": spheres, "Name": f"cg_a{i + 1}",
                                                             "Value": whitening},
                         data_type="FLOAT_VECTOR", domain="POINT").outputs[0]
    spheres = b.node("GeometryNodeSetMaterial", {"Geometry": spheres, "Material": splat_material(points=True)}).outputs[0]

    render = _switch(b, gin.outputs["Point Spheres"], instances, spheres)
    fast = b.node("FunctionNodeBooleanMath", {0: b.node("GeometryNodeIsViewport").outputs[0],
                                              1: gin.outputs["Viewport Points"]}, operation="AND").outputs[0]
    b.tree.links.new(_switch(b, fast, render, spheres), gout.inputs[0])
    return tree


def _switch(b: _Builder, condition, if_false, if_true) -> bpy.types.NodeSocket:
    """Geometry switch node output."""
    n = b.node("GeometryNodeSwitch", input_type="GEOMETRY")
    b.tree.links.new(condition, n.inputs[0])
    b.tree.links.new(if_false, n.inputs[1])
    b.tree.links.new(if_true, n.inputs[2])
    return n.outputs[0]


def _axes_to_rotation(b: _Builder, x_axis, y_axis) -> bpy.types.NodeSocket:
    """Rotation whose X axis is along x_axis and Y axis in the x/y plane.

    Axes to Rotation where Blender has it; otherwise two Align ... to Vector steps (X onto
    x_axis, then Y toward y_axis pivoting about X), which give the same frame.
    """
    try:
        n = b.node("FunctionNodeAxesToRotation", {"Primary Axis": x_axis, "Secondary Axis": y_axis},
                   primary_axis="X", secondary_axis="Y")
        return n.outputs[0]
    except RuntimeError:
        pass
    for kind in ("FunctionNodeAlignRotationToVector", "FunctionNodeAlignEulerToVector"):
        try:
            first = b.node(kind, {"Vector": x_axis}, axis="X")
        except RuntimeError:
            continue
        return b.node(kind, {"Rotation": first.outputs[0], "Vector": y_axis}, axis="Y", pivot_axis="X").outputs[0]
    raise RuntimeError("this Blender has no node to build rotations from axes")


def splat_material(points: bool) -> bpy.types.Material:
    """The Gaussian splat material for ico instances (points=False) or point spheres (True)."""
    name = MAT_POINTS if points else MAT_INSTANCES
    mat = bpy.data.materials.get(name)
    if mat is not None:
        return mat
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    mat.surface_render_method = "BLENDED"  # EEVEE: per-object sorted alpha blending
    mat.use_transparency_overlap = True
    mat.use_backface_culling = False
    if hasattr(mat, "cycles") and hasattr(mat.cycles, "emission_sampling"):
        # the splats show the photo's own light: they are no lamps for the rest of the scene (and
        # sampling tens of thousands of them as lights only adds noise and time)
        mat.cycles.emission_sampling = "NONE"
    if hasattr(mat, "use_transparent_shadow"):
        mat.use_transparent_shadow = True
    tree = mat.node_tree
    tree.nodes.clear()
    b = _Builder(tree)
    geo = b.node("ShaderNodeNewGeometry")
    attr_type = "GEOMETRY" if points else "INSTANCER"
    to_local = {"vector_type": "VECTOR", "convert_from": "WORLD", "convert_to": "OBJECT"}
    if points:
        info = b.node("ShaderNodePointInfo")
        offset = b.node("ShaderNodeVectorTransform", {0: b.vmath("SUBTRACT", geo.outputs["Position"],
                                                                 info.outputs["Position"])}, **to_local).outputs[0]
        view = b.node("ShaderNodeVectorTransform", {0: geo.outputs["Incoming"]}, **to_local).outputs[0]
        axes = [b.node("ShaderNodeAttribute", attribute_type=attr_type, attribute_name=f"cg_a{i}").outputs["Vector"]
                for i in (1, 2, 3)]
        p = b.node("ShaderNodeCombineXYZ", {i: b.vmath("DOT_PRODUCT", axes[i], offset, out=1) for i in range(3)}).outputs[0]
        v = b.node("ShaderNodeCombineXYZ", {i: b.vmath("DOT_PRODUCT", axes[i], view, out=1) for i in range(3)}).outputs[0]
        frame = [b.vmath("NORMALIZE", axis) for axis in axes]  # the splat's axes, in object space
    else:  # instance-local coordinates: the unit sphere is 3σ
        coords = b.node("ShaderNodeTexCoord").outputs["Object"]
        p = b.node("ShaderNodeVectorMath", {0: coords, "Scale": 3.0}, operation="SCALE").outputs[0]
        view = geo.outputs["Incoming"]
        v = b.node("ShaderNodeVectorTransform", {0: view}, **to_local).outputs[0]
        to_world = {"vector_type": "VECTOR", "convert_from": "OBJECT", "convert_to": "WORLD"}
        frame = [b.vmath("NORMALIZE", b.node("ShaderNodeVectorTransform", {0: axis}, **to_world).outputs[0])
                 for axis in ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))]  # the splat's axes, in world space
    # the view direction (camera to splat) in the splat's own frame, where the bundle reader put the tint
    towards = b.node("ShaderNodeCombineXYZ", {i: b.vmath("DOT_PRODUCT", frame[i], view, out=1) for i in range(3)})
    towards = b.node("ShaderNodeVectorMath", {0: towards.outputs[0], "Scale": -1.0}, operation="SCALE").outputs[0]
    v = b.vmath("NORMALIZE", v)
    pv = b.vmath("DOT_PRODUCT", p, v, out=1)
    d2 = b.math("SUBTRACT", b.vmath("DOT_PRODUCT", p, p, out=1), b.math("MULTIPLY", pv, pv))
    opacity = b.node("ShaderNodeAttribute", attribute_type=attr_type, attribute_name="cg_opacity").outputs["Fac"]
    color = _view_dependent_colour(b, attr_type, towards)
    alpha = b.math("MINIMUM", 0.99, b.math("MULTIPLY", opacity, b.math("EXPONENT", b.math("MULTIPLY", d2, -0.5))))
    keep = b.math("MULTIPLY", b.math("LESS_THAN", d2, 9.0), b.math("GREATER_THAN", alpha, 1.0 / 255.0))
    keep = b.math("MULTIPLY", keep, b.math("SUBTRACT", 1.0, geo.outputs["Backfacing"]))
    emission = b.node("ShaderNodeEmission", {"Color": color, "Strength": 1.0}).outputs[0]
    mix = b.node("ShaderNodeMixShader", {0: b.math("MULTIPLY", alpha, keep), 1: b.node("ShaderNodeBsdfTransparent").outputs[0],
                                         2: emission})
    b.tree.links.new(mix.outputs[0], b.node("ShaderNodeOutputMaterial").inputs["Surface"])
    return mat


def sh_attribute(channel: str, half: int) -> str:
    """Name of the RGBA attribute holding SH bands 1-4 (half 0) or 5-8 (half 1) of one colour
    channel. Six such attributes, with cg_color and cg_opacity, are EEVEE's limit of eight
    per-instance attributes a material may read."""
    return f"cg_sh_{channel}{half}"


def _view_dependent_colour(b: _Builder, attr_type: str, towards: bpy.types.NodeSocket) -> bpy.types.NodeSocket:
    """cg_color plus the SH bands 1-2 (the photo tint, `sh_attribute`, in the splat's own frame) at
    the view direction `towards` (camera to splat, in that frame), clamped at 0 as 3DGS does."""
    d = b.node("ShaderNodeSeparateXYZ", {0: b.vmath("NORMALIZE", towards)})
    x, y, z = d.outputs[0], d.outputs[1], d.outputs[2]
    monomials = {"x": x, "y": y, "z": z, "xy": b.math("MULTIPLY", x, y), "yz": b.math("MULTIPLY", y, z),
                 "xz": b.math("MULTIPLY", x, z), "zz": b.math("MULTIPLY", z, z),
                 "xx-yy": b.math("SUBTRACT", b.math("MULTIPLY", x, x), b.math("MULTIPLY", y, y))}
    basis = []
    for factor, monomial in SH_BASIS:
        value = b.math("MULTIPLY", monomials[monomial], factor)
        basis.append(b.math("ADD", value, SH_Y6_CONSTANT) if monomial == "zz" else value)
    firsts = [b.node("ShaderNodeCombineXYZ", {i: basis[4 * half + i] for i in range(3)}).outputs[0] for half in range(2)]
    channels = []
    for channel in "rgb":
        total = None
        for half in range(2):
            attr = b.node("ShaderNodeAttribute", attribute_type=attr_type, attribute_name=sh_attribute(channel, half))
            part = b.math("MULTIPLY_ADD", attr.outputs["Alpha"], basis[4 * half + 3],
                          b.vmath("DOT_PRODUCT", attr.outputs["Vector"], firsts[half], out=1))
            total = part if total is None else b.math("ADD", total, part)
        channels.append(total)
    tint = b.node("ShaderNodeCombineXYZ", {i: channels[i] for i in range(3)}).outputs[0]
    colour = b.node("ShaderNodeAttribute", attribute_type=attr_type, attribute_name="cg_color")
    # scaled by the node group's Photo Tint, which it put in cg_color's alpha
    tint = b.node("ShaderNodeVectorMath", {0: tint, "Scale": colour.outputs["Alpha"]}, operation="SCALE").outputs[0]
    colour = colour.outputs["Vector"]
    return b.vmath("MAXIMUM", b.vmath("ADD", colour, tint), (0.0, 0.0, 0.0))


def splat_group() -> bpy.types.NodeTree:
    """The shared splat node group of this file, built on first use."""
    return bpy.data.node_groups.get(GROUP_NAME) or _geometry_group()


def input_identifier(tree: bpy.types.NodeTree, name: str) -> str:
    """Modifier key (socket identifier) of the group input called `name`."""
    for item in tree.interface.items_tree:
        if getattr(item, "in_out", None) == "INPUT" and item.name == name:
            return item.identifier
    raise KeyError(name)
