"""Running targets: the engine, calls to models, pipelines, judges, costs, plans and exports."""
