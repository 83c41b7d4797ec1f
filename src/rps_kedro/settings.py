"""Project settings: Kedro defaults, `local` as the default run environment, `oc.env` everywhere
(the loader's arguments live in rps_kedro.config, shared with the service and the tests)."""

from rps_kedro.config import CONFIG_LOADER_ARGS
from rps_kedro.hooks import ModelInputExampleHook, ModelPromotionHook

HOOKS = (ModelInputExampleHook(), ModelPromotionHook())

__all__ = ["CONFIG_LOADER_ARGS", "HOOKS"]
