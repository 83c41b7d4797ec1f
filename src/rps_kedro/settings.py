"""Project settings: Kedro defaults, `local` as the default run environment, `oc.env` everywhere."""

from omegaconf.resolvers import oc

from rps_kedro.hooks import ModelInputExampleHook, ModelPromotionHook

HOOKS = (ModelInputExampleHook(), ModelPromotionHook())

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/<env>/parameters_*.yml override single keys instead of whole top-level blocks.
    "merge_strategy": {"parameters": "soft"},
    # mlflow.yml reads MLFLOW_TRACKING_URI so a real tracking server is one variable away.
    "custom_resolvers": {"oc.env": oc.env},
}
