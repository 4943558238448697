"""Quadrilaterals: rectangles (sides, diagonal, a missing side), squares, parallelograms and trapezoids."""

from __future__ import annotations

from visinstruct.synth.geometry.model import (
    QUADS,
    SMALL_TRIPLES,
    Built,
    Ctx,
    Fig,
    Quantity,
    area_q,
    perimeter_q,
    perimeter_sum,
    pyth,
)


def build_rectangle(ctx: Ctx) -> Built:
    rng = ctx.rng
    V, _ = rng.choice(QUADS)
    A, B, C, D = V
    mode = "sides" if rng.random() < 0.55 else rng.choice(("diagonal", "missing_side"))
    if mode == "sides":
        while True:
            w, h = rng.randint(3, 20), rng.randint(2, 16)
            if w != h and max(w, h) <= 3 * min(w, h):
                break
        c = None
    else:
        a, b, c = rng.choice(SMALL_TRIPLES)
        w, h = (a, b) if rng.random() < 0.5 else (b, a)
    fig = Fig(rot="quad")
    fig.pts = {A: (0, h), B: (w, h), C: (w, 0), D: (0, 0)}
    fig.polys.append((A, B, C, D))
    for p in V:
        fig.vlabels.append((p, None))
    seg_w = rng.choice((A + B, D + C))
    seg_h = rng.choice((B + C, A + D))
    AB, BC, AC = A + B, B + C, A + C
    vals = {AB: w, BC: h, AC: c}
    given = {seg_w: w}
    fig.slabels.append((seg_w[0], seg_w[1], ctx.lab(w), 0.5, None))
    if mode != "missing_side":
        given[seg_h] = h
        fig.slabels.append((seg_h[0], seg_h[1], ctx.lab(h), 0.5, None))
    if mode != "sides":
        fig.segs.append((A, C, rng.random() < 0.5))
        away = rng.choice((B, D))
        if mode == "missing_side":
            given[AC] = c
            fig.slabels.append((A, C, ctx.lab(c), 0.5, away))
            if rng.random() < 0.5:
                fig.slabels.append((B, C, rng.choice(("?", "x")), 0.5, None))
        elif rng.random() < 0.4:
            fig.slabels.append((A, C, rng.choice(("?", "x")), 0.5, away))
    corners = [(A, D, B), (B, A, C), (C, B, D), (D, C, A)]
    n_marks = rng.randint(1, 4)
    marks = rng.sample(corners, n_marks)
    if mode != "sides" and corners[1] not in marks:
        marks.append(corners[1])
    fig.rights.extend(marks)

    shape = ctx.say("shape_rect", n=V)
    tri = A + B + C
    quants: list[Quantity] = []

    def need_h(known: set) -> list[str]:
        if mode == "missing_side" and "length:" + BC not in known:
            return [
                ctx.say("ex_rect_right", tri=tri, r=B),
                pyth(ctx, tri, B, AC, (AB, BC), vals, BC),
            ]
        return []

    def ex_area(known: set) -> str:
        return ctx.join(
            need_h(known) + [ctx.say("ex_rect_area", s1=AB, s2=BC, v1=w, v2=h, ans=ctx.fmt("area", w * h))]
        )

    def ex_perim(known: set) -> str:
        return ctx.join(
            need_h(known)
            + [ctx.say("ex_rect_perimeter", v1=w, v2=h, s=w + h, ans=ctx.fmt("len", 2 * (w + h)))]
        )

    if mode == "diagonal":
        quants.append(
            Quantity(
                "length:" + AC,
                "length",
                ctx.say("t_length", seg=AC),
                "len",
                c,
                [w + h, w * w + h * h, abs(w - h), c + 1, c - 1],
                lambda known: ctx.join(
                    [
                        ctx.say("ex_rect_right", tri=tri, r=B),
                        pyth(ctx, tri, B, AC, (AB, BC), vals, AC),
                    ]
                ),
            )
        )
    if mode == "missing_side":
        quants.append(
            Quantity(
                "length:" + BC,
                "length",
                ctx.say("t_length", seg=BC),
                "len",
                h,
                [c - w, c + w, c * c - w * w, h + 1, h - 1],
                lambda known: ctx.join(
                    [
                        ctx.say("ex_rect_right", tri=tri, r=B),
                        pyth(ctx, tri, B, AC, (AB, BC), vals, BC),
                    ]
                ),
            )
        )
    quants.append(
        area_q(
            ctx,
            shape,
            w * h,
            [2 * (w + h), w + h, w * h / 2, w * w, h * h],
            ex_area,
        )
    )
    quants.append(
        perimeter_q(
            ctx,
            shape,
            2 * (w + h),
            [w * h, w + h, 2 * w + h, w + 2 * h, 4 * w],
            ex_perim,
        )
    )
    givens = [f"{s} = {ctx.lab(v)}" for s, v in given.items()]
    facts = {"mode": mode, "vertices": V, "width": w, "height": h, "diagonal": c, "given": given}
    return fig, facts, quants, givens, shape, (V, "rectangle", ["square", "rhombus", "trapezoid"])


def build_square(ctx: Ctx) -> Built:
    rng = ctx.rng
    V, _ = rng.choice(QUADS)
    A, B, C, D = V
    s = rng.randint(2, 20)
    fig = Fig(rot="quad")
    fig.pts = {A: (0, s), B: (s, s), C: (s, 0), D: (0, 0)}
    fig.polys.append((A, B, C, D))
    for p in V:
        fig.vlabels.append((p, None))
    seg = rng.choice((A + B, B + C, D + C, A + D))
    fig.slabels.append((seg[0], seg[1], ctx.lab(s), 0.5, None))
    n_ticks = rng.choice((1, 2))
    for p, q in ((A, B), (B, C), (C, D), (D, A)):
        fig.ticks.append((p, q, n_ticks))
    corners = [(A, D, B), (B, A, C), (C, B, D), (D, C, A)]
    fig.rights.extend(rng.sample(corners, rng.randint(1, 4)))
    shape = ctx.say("shape_square", n=V)
    quants = [
        area_q(
            ctx,
            shape,
            s * s,
            [4 * s, 2 * s, 2 * s * s, (s + 1) * (s + 1)],
            lambda known: ctx.say("ex_square_area", v=s, ans=ctx.fmt("area", s * s)),
        ),
        perimeter_q(
            ctx,
            shape,
            4 * s,
            [s * s, 2 * s, 3 * s, 8 * s],
            lambda known: ctx.say("ex_square_perimeter", v=s, ans=ctx.fmt("len", 4 * s)),
        ),
    ]
    givens = [f"{seg} = {ctx.lab(s)}", ctx.say("given_square", n=V)]
    facts = {"vertices": V, "side": s, "given": {seg: s}}
    return fig, facts, quants, givens, shape, None


def build_parallelogram(ctx: Ctx) -> Built:
    rng = ctx.rng
    V, F = rng.choice(QUADS)
    A, B, C, D = V
    b = rng.randint(6, 20)
    s = None
    if rng.random() < 0.5:
        options = [t for t in SMALL_TRIPLES if min(t[0], t[1]) < 0.6 * b and max(t[0], t[1]) <= 1.4 * b]
        if options:
            p, q, s = rng.choice(options)
            off, h = (p, q) if p < q else (q, p)
            if rng.random() < 0.4 and max(p, q) < 0.6 * b:
                off, h = max(p, q), min(p, q)
    if s is None:
        h = rng.randint(max(3, b // 3), max(4, b))
        off = round(b * rng.uniform(0.2, 0.5), 3)
    fig = Fig(rot="tilt")
    fig.pts = {
        A: (0.0, 0.0),
        B: (float(b), 0.0),
        C: (b + off, float(h)),
        D: (float(off), float(h)),
        F: (float(off), 0.0),
    }
    fig.polys.append((A, B, C, D))
    for p in V:
        fig.vlabels.append((p, None))
    fig.vlabels.append((F, (0.0, -1.0)))
    fig.segs.append((D, F, True))
    fig.rights.append((F, D, B))
    AB, DF, AD = A + B, D + F, A + D
    # the base is labelled on AB unless the foot F is near its middle; then on the equal side DC
    base = AB if abs(off / b - 0.5) >= 0.25 else D + C
    fig.slabels.append((base[0], base[1], ctx.lab(b), 0.5, None))
    fig.slabels.append((D, F, ctx.lab(h), 0.5, A))
    given = {base: b, DF: h}
    if s is not None:
        fig.slabels.append((A, D, ctx.lab(s), 0.5, None))
        given[AD] = s
    shape = ctx.say("shape_para", n=V)
    quants = [
        area_q(
            ctx,
            shape,
            b * h,
            ([b * s] if s else []) + [b * h / 2, 2 * (b + h), b + h],
            lambda known: ctx.say("ex_para_area", b=base, h=DF, bv=b, hv=h, ans=ctx.fmt("area", b * h)),
        )
    ]
    if s is not None:
        quants.append(
            perimeter_q(
                ctx,
                shape,
                2 * (b + s),
                [b + s, b * h, 2 * (b + h), b * s, 4 * b],
                lambda known: ctx.say(
                    "ex_para_perimeter", b=base, s=AD, bv=b, sv=s, ans=ctx.fmt("len", 2 * (b + s))
                ),
            )
        )
    givens = [f"{seg} = {ctx.lab(v)}" for seg, v in given.items() if seg != DF]
    givens.append(ctx.say("given_height", seg=DF, base=AB, v=ctx.lab(h)))
    facts = {
        "vertices": V,
        "foot": F,
        "base": b,
        "base_segment": base,
        "height": h,
        "slant": s,
        "given": given,
    }
    return fig, facts, quants, givens, shape, (V, "parallelogram", ["rectangle", "square", "trapezoid"])


def build_trapezoid(ctx: Ctx) -> Built:
    rng = ctx.rng
    V, F = rng.choice(QUADS)
    A, B, C, D = V
    right = rng.random() < 0.4
    slant = None
    while True:
        if right and rng.random() < 0.6:
            p, q, slant = rng.choice(SMALL_TRIPLES)
            diff, h = (p, q) if rng.random() < 0.5 else (q, p)
            a = rng.randint(3, 14)
            b = a + diff
        else:
            slant = None
            b = rng.randint(7, 22)
            a = rng.randint(3, b - 3)
            h = rng.randint(3, 14)
        if (a + b) * h % 2 == 0 and b <= 3 * h and h <= 1.3 * b and b <= 28:
            break
    fig = Fig(rot="tilt")
    off = 0.0 if right else round((b - a) * rng.uniform(0.25, 0.75), 3)
    fig.pts = {A: (0.0, 0.0), B: (float(b), 0.0), C: (off + a, float(h)), D: (off, float(h))}
    fig.polys.append((A, B, C, D))
    for p in V:
        fig.vlabels.append((p, None))
    AB, DC, BC = A + B, D + C, B + C
    if right:
        hs = A + D
        fig.rights.extend([(A, B, D), (D, A, C)])
        fig.slabels.append((A, D, ctx.lab(h), 0.5, None))
        fig.slabels.append((A, B, ctx.lab(b), 0.5, None))
    else:
        # drop the height from the top vertex whose foot is further from the middle of AB
        top, xf = (D, off) if abs(off - b / 2) >= abs(off + a - b / 2) else (C, off + a)
        hs = top + F
        fig.pts[F] = (xf, 0.0)
        fig.vlabels.append((F, (0.0, -1.0)))
        fig.segs.append((top, F, True))
        near, far = (A, B) if top == D else (B, A)
        fig.rights.append((F, top, far))
        fig.slabels.append((top, F, ctx.lab(h), 0.5, near))
        u = xf / b
        t = 0.5 if abs(u - 0.5) >= 0.2 else ((u + 1) / 2 if u < 0.5 else u / 2)
        fig.slabels.append((A, B, ctx.lab(b), t, None))
    fig.slabels.append((D, C, ctx.lab(a), 0.5, None))
    given = {AB: b, DC: a, hs: h}
    if slant is not None:
        fig.slabels.append((B, C, ctx.lab(slant), 0.5, None))
        given[BC] = slant
    shape = ctx.say("shape_trap", n=V)
    area = (a + b) * h // 2
    quants = [
        area_q(
            ctx,
            shape,
            area,
            [(a + b) * h, a * h, b * h, (b - a) * h / 2, a + b + h],
            lambda known: ctx.say(
                "ex_trap_area", a=DC, b=AB, h=hs, av=a, bv=b, hv=h, s=a + b, ans=ctx.fmt("area", area)
            ),
        )
    ]
    if slant is not None:
        per = a + b + h + slant
        quants.append(
            perimeter_q(
                ctx,
                shape,
                per,
                [a + b + h, a + b + slant, area, 2 * (a + b)],
                lambda known: perimeter_sum(ctx, [b, slant, a, h], ctx.fmt("len", per)),
            )
        )
    givens = [f"{seg} = {ctx.lab(v)}" for seg, v in given.items() if seg != hs]
    givens.append(ctx.say("given_parallel", s1=AB, s2=DC))
    if right:
        givens.append(ctx.say("given_right", v=A))
        givens.append(f"{hs} = {ctx.lab(h)}")
    else:
        givens.append(ctx.say("given_height", seg=hs, base=AB, v=ctx.lab(h)))
    facts = {
        "vertices": V,
        "right": right,
        "top": a,
        "bottom": b,
        "height": h,
        "slant": slant,
        "height_segment": hs,
        "given": given,
    }
    return fig, facts, quants, givens, shape, (V, "trapezoid", ["parallelogram", "rectangle", "rhombus"])
