"""rillet's front end: the pipeline language (grammar, syntax tree, checker, planner) and the
`rillet` command.

```
 .rill text ──parser──▶ ast.Program ──checker──▶ Checked ──planner──▶ runtime.plan.Plan
```

Read `pipeline.py` for the phases in order, `cli.py` for the command.
"""
