"""Instruction augmentation (InstrAug): grow a few instruction templates per task into a
large, filtered, diverse pool with a model, then give each dataset instance one of them.

    config.py      the YAML config: sources, endpoints, directives, generation, filters
    templates.py   load tasks' templates (YAML, TSV, MultiInstruct JSON, phrasings, seeds)
    directives.py  meta-prompts: rewriting directives as data (directives.yaml)
    mask.py        placeholders → [[A]] sentinels before rewriting, and back
    generate.py    multi-temperature and iterative rephrasing through the ModelClient
    filters.py     rules every rephrasing passes, each rejection with its reason
    diversity.py   ROUGE-L (LCS) and distinct-n, for the filters and the report
    pool.py        the pool, the rejections and the figures on disk
    build.py       one seeded template per instance, rendered by plain substitution
    runner.py      one augmentation end to end, outputs written even on an error
    cli.py         `visinstruct augment run | compare | templates | build`
"""
