"""Triangles: right triangles (Pythagoras), angle sums and exterior angles, isosceles, three sides."""

from __future__ import annotations

import math

from visinstruct.synth.geometry.model import (
    TRIPLES,
    TRIS,
    Built,
    Ctx,
    Fig,
    Quantity,
    angle_q,
    area_q,
    base_angles_ok,
    perimeter_q,
    perimeter_sum,
    pyth,
)


def build_right_triangle(ctx: Ctx) -> Built:
    rng = ctx.rng
    V, _ = rng.choice(TRIS)
    A, B, C = V
    a, b, c = rng.choice(TRIPLES)
    if rng.random() < 0.5:
        a, b = b, a
    BC, AC, AB = B + C, A + C, A + B
    vals = {BC: a, AC: b, AB: c}
    missing = rng.choice((AB, AB, BC, AC))
    fig = Fig(rot=rng.choice(("tilt", "tilt", "free")))
    fig.pts = {C: (0, 0), B: (a, 0), A: (0, b)}
    fig.polys.append((A, B, C))
    for p in V:
        fig.vlabels.append((p, None))
    fig.rights.append((C, A, B))
    given = {}
    for seg in (BC, AC, AB):
        if seg != missing:
            given[seg] = vals[seg]
            fig.slabels.append((seg[0], seg[1], ctx.lab(vals[seg]), 0.5, None))
        elif rng.random() < 0.6:
            fig.slabels.append((seg[0], seg[1], rng.choice(("?", "x")), 0.5, None))
    shape = ctx.say("shape_rtri", n=V)

    def pyth_if(known: set) -> list[str]:
        if "length:" + missing not in known:
            return [pyth(ctx, V, C, AB, (BC, AC), vals, missing)]
        return []

    def ex_area(known: set) -> str:
        pre = pyth_if(known) if missing != AB else []
        return ctx.join(
            pre + [ctx.say("ex_rtri_area", a=BC, b=AC, av=a, bv=b, ab=a * b, ans=ctx.fmt("area", a * b // 2))]
        )

    def ex_perim(known: set) -> str:
        return ctx.join(pyth_if(known) + [perimeter_sum(ctx, [a, b, c], ctx.fmt("len", a + b + c))])

    mv = vals[missing]
    if missing == AB:
        m_side = [a + b, a * a + b * b, abs(a - b), c + 1, c - 1]
    else:
        other = b if missing == BC else a
        m_side = [c - other, c + other, c * c - other * other, mv + 1, mv - 1]
    quants = [
        Quantity(
            "length:" + missing,
            "length",
            ctx.say("t_length", seg=missing),
            "len",
            mv,
            m_side,
            lambda known: pyth(ctx, V, C, AB, (BC, AC), vals, missing),
        ),
        area_q(
            ctx,
            shape,
            a * b // 2,
            [a * b, a * c / 2, b * c / 2, a + b + c],
            ex_area,
        ),
        perimeter_q(
            ctx,
            shape,
            a + b + c,
            [a + b, a * b // 2, 2 * (a + b), a + b + c + 2],
            ex_perim,
        ),
    ]
    givens = [ctx.say("given_right", v=C)] + [f"{s} = {ctx.lab(v)}" for s, v in given.items()]
    facts = {
        "vertices": V,
        "right_angle": C,
        "legs": {BC: a, AC: b},
        "hypotenuse": {AB: c},
        "missing": missing,
        "given": given,
    }
    return fig, facts, quants, givens, shape, None


def build_triangle_angles(ctx: Ctx) -> Built:
    rng = ctx.rng
    V, E = rng.choice(TRIS)
    A, B, C = V
    while True:
        x, y = rng.randint(30, 110), rng.randint(30, 110)
        z = 180 - x - y
        if z >= 30 and len({x, y, z}) == 3:
            break
    mode = rng.choice(("third", "third", "exterior"))
    fig = Fig(rot=rng.choice(("tilt", "free")))
    ac = math.sin(math.radians(y)) / math.sin(math.radians(z))
    fig.pts = {
        A: (0.0, 0.0),
        B: (1.0, 0.0),
        C: (ac * math.cos(math.radians(x)), ac * math.sin(math.radians(x))),
    }
    fig.polys.append((A, B, C))
    BAC, ABC, ACB, CBE = B + A + C, A + B + C, A + C + B, C + B + E
    shape = ctx.say("shape_tri", n=V)
    if mode == "third":
        given = {BAC: x, ABC: y}
        fig.arcs.append((A, B, C, f"{x}°", 1.0))
        fig.arcs.append((B, A, C, f"{y}°", 1.0))
        if rng.random() < 0.5:
            fig.arcs.append((C, A, B, rng.choice(("?", "x")), 1.0))
        for p in V:
            fig.vlabels.append((p, None))
        quants = [
            angle_q(
                ctx,
                ACB,
                z,
                [360 - x - y, x + y, 180 - x, 180 - y, 90 - x - y if x + y < 90 else z + 20],
                "ex_angle_sum",
                x=ACB,
                p=BAC,
                q=ABC,
                pv=x,
                qv=y,
            )
        ]
    else:
        given = {BAC: x, ACB: z}
        fig.pts[E] = (1.0 + 0.5, 0.0)
        fig.segs.append((B, E, False))
        fig.arcs.append((A, B, C, f"{x}°", 1.0))
        fig.arcs.append((C, A, B, f"{z}°", 1.0))
        if rng.random() < 0.5:
            fig.arcs.append((B, C, E, rng.choice(("?", "x")), 1.0))
        fig.vlabels.extend([(A, None), (C, None), (B, (0.25, -1.0)), (E, (1.0, -0.4))])
        quants = [
            angle_q(
                ctx,
                ABC,
                y,
                [x + z, 360 - x - z, 180 - x, 180 - z],
                "ex_angle_sum",
                x=ABC,
                p=BAC,
                q=ACB,
                pv=x,
                qv=z,
            ),
            angle_q(
                ctx,
                CBE,
                x + z,
                [y, 180 - x, 180 - z, 360 - x - z],
                "ex_exterior",
                x=CBE,
                p=BAC,
                q=ACB,
                pv=x,
                qv=z,
            ),
        ]
    givens = [f"∠{n} = {v}°" for n, v in given.items()]
    if mode == "exterior":
        givens.append(ctx.say("given_line", p=A, o=B, q=E))
    facts = {
        "mode": mode,
        "vertices": V,
        "angles": {BAC: x, ABC: y, ACB: z},
        "ext_point": E if mode == "exterior" else None,
        "given": given,
    }
    return fig, facts, quants, givens, shape, None


def build_isosceles(ctx: Ctx) -> Built:
    rng = ctx.rng
    V, _ = rng.choice(TRIS)
    A, B, C = V
    mode = rng.choice(("apex", "base"))
    if mode == "apex":
        apex = rng.randrange(30, 122, 2)
        base = (180 - apex) // 2
    else:
        base = rng.randint(35, 74)
        if base == 60:
            base = 62
        apex = 180 - 2 * base
    fig = Fig(rot=rng.choice(("tilt", "tilt", "free")))
    t = math.tan(math.radians(base))
    fig.pts = {A: (0.0, t), B: (-1.0, 0.0), C: (1.0, 0.0)}
    fig.polys.append((A, B, C))
    for p in V:
        fig.vlabels.append((p, None))
    n_ticks = rng.choice((1, 2))
    fig.ticks.extend([(A, B, n_ticks), (A, C, n_ticks)])
    BAC, ABC, ACB = B + A + C, A + B + C, A + C + B
    eq = f"{A}{B} = {A}{C}"
    shape = ctx.say("shape_tri", n=V)
    if mode == "apex":
        given = {BAC: apex}
        fig.arcs.append((A, B, C, f"{apex}°", 1.0))
        ask = rng.choice((ABC, ACB))
        b1, b2 = (ABC, ACB) if ask == ABC else (ACB, ABC)
        quants = [
            angle_q(
                ctx,
                ask,
                base,
                [180 - apex, apex, (360 - apex) // 2, 90 - apex if apex < 90 else base + 20],
                "ex_iso_base",
                eq=eq,
                b1=b1,
                b2=b2,
                v=apex,
            )
        ]
    else:
        given = {ABC: base}
        fig.arcs.append((B, A, C, f"{base}°", 1.0))
        quants = [
            angle_q(
                ctx,
                ACB,
                base,
                [180 - base, 90 - base, apex, 180 - 2 * base + 10],
                "ex_iso_other_base",
                eq=eq,
                b1=ABC,
                b2=ACB,
            ),
            angle_q(
                ctx,
                BAC,
                apex,
                [180 - base, base, 90 - base, 2 * base],
                "ex_iso_apex",
                eq=eq,
                b1=ABC,
                b2=ACB,
                x=BAC,
                v=base,
            ),
        ]
    givens = [ctx.say("given_equal", s1=A + B, s2=A + C)] + [f"∠{n} = {v}°" for n, v in given.items()]
    facts = {
        "mode": mode,
        "vertices": V,
        "apex": A,
        "equal": [A + B, A + C],
        "angles": {BAC: apex, ABC: base, ACB: base},
        "given": given,
    }
    return fig, facts, quants, givens, shape, None


def build_triangle_sides(ctx: Ctx) -> Built:
    rng = ctx.rng
    V, _ = rng.choice(TRIS)
    A, B, C = V
    iso = rng.random() < 0.4
    while True:
        if iso:
            leg, base = rng.randint(4, 20), rng.randint(3, 24)
            ab, ac, bc = leg, leg, base
        else:
            ab, ac, bc = rng.randint(4, 20), rng.randint(4, 20), rng.randint(4, 20)
            if len({ab, ac, bc}) < 3:
                continue
        if base_angles_ok(ab, ac, bc) and (not iso or bc != leg):
            break
    fig = Fig(rot=rng.choice(("tilt", "free")))
    # B at origin, C on the x axis, A above
    x = (ab * ab + bc * bc - ac * ac) / (2 * bc)
    fig.pts = {B: (0.0, 0.0), C: (float(bc), 0.0), A: (x, math.sqrt(max(0.0, ab * ab - x * x)))}
    fig.polys.append((A, B, C))
    for p in V:
        fig.vlabels.append((p, None))
    AB, AC, BC = A + B, A + C, B + C
    given = {AB: ab, BC: bc} if iso else {AB: ab, AC: ac, BC: bc}
    for s, v in given.items():
        fig.slabels.append((s[0], s[1], ctx.lab(v), 0.5, None))
    shape = ctx.say("shape_tri", n=V)
    p = ab + ac + bc
    quants: list[Quantity] = []
    if iso:
        n_ticks = rng.choice((1, 2))
        fig.ticks.extend([(A, B, n_ticks), (A, C, n_ticks)])
        quants.append(
            Quantity(
                "length:" + AC,
                "length",
                ctx.say("t_length", seg=AC),
                "len",
                ac,
                [bc, 2 * ac, ab + bc, ac + 1],
                lambda known: ctx.say("ex_iso_side", s1=AB, s2=AC, v=ctx.fmt("len", ac)),
            )
        )
        m_perim = [ab + bc, 2 * bc + ab, 3 * ab, 2 * (ab + bc)]
    else:
        m_perim = [ab + bc, ab + ac, ac + bc, 2 * p]

    def ex_perim(known: set) -> str:
        pre = []
        if iso and "length:" + AC not in known:
            pre.append(ctx.say("ex_iso_side", s1=AB, s2=AC, v=ctx.fmt("len", ac)))
        return ctx.join(pre + [perimeter_sum(ctx, [ab, ac, bc], ctx.fmt("len", p))])

    quants.append(perimeter_q(ctx, shape, p, m_perim, ex_perim))
    givens = [f"{s} = {ctx.lab(v)}" for s, v in given.items()]
    if iso:
        givens.append(ctx.say("given_equal", s1=AB, s2=AC))
    facts = {
        "vertices": V,
        "sides": {AB: ab, AC: ac, BC: bc},
        "equal": [AB, AC] if iso else [],
        "given": given,
    }
    return fig, facts, quants, givens, shape, None
