"""Circles (radius, diameter, area, circumference) and angles between lines
(on a straight line, vertical angles, complementary angles)."""

from __future__ import annotations

import math

from visinstruct.synth.geometry.model import (
    CENTRES,
    RAYS,
    Built,
    Ctx,
    Fig,
    Quantity,
    angle_q,
)


def build_circle(ctx: Ctx) -> Built:
    rng = ctx.rng
    ctr, (P, Q) = rng.choice(CENTRES)
    mode = rng.choice(("radius", "diameter"))
    r = rng.randint(2, 15)
    d = 2 * r
    fig = Fig(rot="free")
    fig.circles.append((ctr, 1.0))
    # "_s": an undrawn point that tells on which side of the line the length label goes
    fig.pts = {
        ctr: (0.0, 0.0),
        P: (1.0, 0.0),
        "_s": (0.5, rng.choice((-0.5, 0.5)) if mode == "radius" else 0.5),
    }
    fig.dots.append(ctr)
    shape = ctx.say("shape_circle", n=ctr)
    if mode == "radius":
        seg = ctr + P
        given = {seg: r}
        fig.segs.append((ctr, P, rng.random() < 0.25))
        fig.slabels.append((ctr, P, ctx.lab(r), 0.5, "_s"))
        fig.vlabels.extend([(ctr, (-1.0, 0.0)), (P, (1.0, 0.0))])
        givens = [ctx.say("given_radius", seg=seg, v=ctx.lab(r))]
    else:
        seg = Q + P
        fig.pts[Q] = (-1.0, 0.0)
        given = {seg: d}
        fig.segs.append((Q, P, False))
        fig.slabels.append((Q, P, ctx.lab(d), 0.5, "_s"))
        fig.vlabels.extend([(ctr, (0.0, 1.0)), (P, (1.0, 0.0)), (Q, (-1.0, 0.0))])
        givens = [ctx.say("given_diameter", seg=seg, v=ctx.lab(d))]

    def r_first(known: set) -> list[str]:
        if mode == "diameter" and "radius" not in known:
            return [ctx.say("ex_r_from_d", dv=d, rv=r)]
        return []

    def ex_area(known: set) -> str:
        key = "ex_circle_area_pi" if ctx.pi else "ex_circle_area_314"
        return ctx.join(r_first(known) + [ctx.say(key, rv=r, r2=r * r, ans=ctx.fmt("piarea", r * r))])

    def ex_circ(known: set) -> str:
        ans = ctx.fmt("pilen", d)
        if mode == "diameter":
            return ctx.say("ex_circ_d_pi" if ctx.pi else "ex_circ_d_314", dv=d, ans=ans)
        return ctx.say("ex_circ_pi" if ctx.pi else "ex_circ_314", rv=r, ans=ans)

    quants = []
    if mode == "radius":
        quants.append(
            Quantity(
                "diameter",
                "length",
                ctx.say("t_diameter", shape=shape),
                "len",
                d,
                [r, 4 * r, r * r, d + 1],
                lambda known: ctx.say("ex_diameter", rv=r, ans=ctx.fmt("len", d)),
            )
        )
    else:
        quants.append(
            Quantity(
                "radius",
                "length",
                ctx.say("t_radius", shape=shape),
                "len",
                r,
                [d, 2 * d, r + 1, r - 1],
                lambda known: ctx.say("ex_radius", dv=d, ans=ctx.fmt("len", r)),
            )
        )
    quants.append(
        Quantity(
            "area",
            "area",
            ctx.say("t_area", shape=shape),
            "piarea",
            r * r,
            [2 * r, 4 * r * r, 2 * r * r, r],
            ex_area,
        )
    )
    quants.append(
        Quantity(
            "circumference",
            "perimeter",
            ctx.say("t_circumference", shape=shape),
            "pilen",
            d,
            [r * r, r, 4 * r, d * d],
            ex_circ,
        )
    )
    facts = {"mode": mode, "centre": ctr, "radius": r, "given": given}
    return fig, facts, quants, givens, shape, None


def build_angles(ctx: Ctx) -> Built:
    rng = ctx.rng
    names, ctr = rng.choice(RAYS)
    A, B, C, D = names
    sub = rng.choice(("straight", "straight3", "vertical", "complement"))
    fig = Fig(rot="free", arc_frac=0.22)
    fig.pts = {ctr: (0.0, 0.0)}
    fig.dots.append(ctr)
    qmark = rng.random() < 0.5

    def at(deg: float) -> tuple[float, float]:
        return (math.cos(math.radians(deg)), math.sin(math.radians(deg)))

    def ang(p: str, q: str) -> str:
        return p + ctr + q

    quants: list[Quantity] = []
    if sub in ("straight", "straight3"):
        fig.pts[A], fig.pts[B] = (-1.0, 0.0), (1.0, 0.0)
        fig.segs.append((A, B, False))
        givens = [ctx.say("given_line", p=A, o=ctr, q=B)]
        if sub == "straight":
            while True:
                x = rng.randint(25, 155)
                if abs(x - 90) >= 8:
                    break
            fig.pts[C] = at(180 - x)
            fig.segs.append((ctr, C, False))
            fig.arcs.append((ctr, A, C, f"{x}°", 1.0))
            if qmark:
                fig.arcs.append((ctr, C, B, "?", 1.35))
            given = {ang(A, C): x}
            AOC, BOC = ang(A, C), ang(B, C)
            quants.append(
                angle_q(ctx, BOC, 180 - x, [x, 90 - x, 360 - x, 270 - x], "ex_supp", x=BOC, y=AOC, v=x)
            )
            labelled = [C]
        else:
            while True:
                x, y = rng.randint(25, 110), rng.randint(25, 110)
                z = 180 - x - y
                if z >= 25 and len({x, y, z}) == 3:
                    break
            fig.pts[C] = at(180 - x)
            fig.pts[D] = at(180 - x - y)
            fig.segs.extend([(ctr, C, False), (ctr, D, False)])
            fig.arcs.append((ctr, A, C, f"{x}°", 1.0))
            fig.arcs.append((ctr, C, D, f"{y}°", 1.0))
            if qmark:
                fig.arcs.append((ctr, D, B, "?", 1.0))
            AOC, COD, DOB = ang(A, C), ang(C, D), ang(D, B)
            given = {AOC: x, COD: y}
            quants.append(
                angle_q(
                    ctx,
                    DOB,
                    z,
                    [x + y, 180 - x, 180 - y, 360 - x - y],
                    "ex_supp3",
                    x=DOB,
                    y=AOC,
                    z=COD,
                    yv=x,
                    zv=y,
                )
            )
            labelled = [C, D]
        fig.vlabels.extend([(A, (-1.0, 0.0)), (B, (1.0, 0.0)), (ctr, (0.0, -1.0))])
        for p in labelled:
            fig.vlabels.append((p, fig.pts[p]))
    elif sub == "vertical":
        while True:
            x = rng.randint(30, 150)
            if abs(x - 90) >= 10:
                break
        fig.pts[A], fig.pts[B] = (-1.0, 0.0), (1.0, 0.0)
        fig.pts[C] = at(180 - x)
        cx, cy = fig.pts[C]
        fig.pts[D] = (-cx, -cy)
        fig.segs.extend([(A, B, False), (C, D, False)])
        AOC, BOD, BOC, AOD = ang(A, C), ang(B, D), ang(B, C), ang(A, D)
        given = {AOC: x}
        fig.arcs.append((ctr, A, C, f"{x}°", 1.0))
        second = rng.choice((BOC, AOD))
        quants.append(angle_q(ctx, BOD, x, [180 - x, 90 - x, 360 - x, x + 10], "ex_vertical", x=BOD, y=AOC))
        quants.append(
            angle_q(ctx, second, 180 - x, [x, 90 - x, 360 - x, 270 - x], "ex_supp", x=second, y=AOC, v=x)
        )
        if qmark:
            fig.arcs.append((ctr, B, D, "?", 1.0))
        # the centre's label goes in the free angle (BOC or AOD, both 180 - x) not asked
        free = AOD if second == BOC else BOC
        p1, p2 = fig.pts[free[0]], fig.pts[free[2]]
        fig.vlabels.append((ctr, (p1[0] + p2[0], p1[1] + p2[1]), (180 - x) / 2))
        for p in (A, B, C, D):
            fig.vlabels.append((p, fig.pts[p]))
        givens = [ctx.say("given_cross", l1=A + B, l2=C + D, o=ctr)]
    else:
        while True:
            x = rng.randint(20, 70)
            if abs(x - 45) >= 6:
                break
        fig.pts[A], fig.pts[B], fig.pts[C] = (1.0, 0.0), (0.0, 1.0), at(x)
        fig.segs.extend([(ctr, A, False), (ctr, B, False), (ctr, C, False)])
        fig.rights.append((ctr, A, B))
        AOC, COB, AOB = ang(A, C), ang(C, B), ang(A, B)
        given = {AOC: x}
        fig.arcs.append((ctr, A, C, f"{x}°", 1.25))
        if qmark:
            fig.arcs.append((ctr, C, B, "?", 1.7))
        quants.append(
            angle_q(ctx, COB, 90 - x, [180 - x, x, 90 + x, 100 - x], "ex_comp", x=COB, y=AOC, w=AOB, v=x)
        )
        fig.vlabels.extend([(A, (1.0, 0.0)), (B, (0.0, 1.0)), (C, fig.pts[C]), (ctr, (-1.0, -1.0))])
        givens = [f"∠{AOB} = 90°"]
    givens = givens + [f"∠{n} = {v}°" for n, v in given.items()]
    facts = {"subtype": sub, "rays": names, "centre": ctr, "given": given}
    return fig, facts, quants, givens, "", None
