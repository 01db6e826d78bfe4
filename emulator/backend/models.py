"""`/models`: the model registry (`emu.models`) as the real listing showed models.

Every registered name is listed, in registration order; a model registered with
`emu.register_model` appears too. Retrieval takes an exact registered name, as the real
endpoint took exact ids; anything else is its 404.
"""

from __future__ import annotations

from ..wire import objects
from ..wire.errors import NotFoundError
from ..wire.objects import Obj
from .base import Resource

# The `created` the real listing gave each default model (recalled: no recorded traffic covers
# `/models`); models registered with `emu.register_model` show 0.
RELEASED = {
    "gpt-3.5-turbo": 1677610602,
    "gpt-4": 1687882411,
    "gpt-4-32k": 1687979321,
    "gpt-4-1106-preview": 1698957206,
    "gpt-4-0125-preview": 1706037612,
    "gpt-4-turbo": 1712361441,
    "gpt-4o": 1715367049,
    "gpt-4o-2024-05-13": 1715368132,
    "gpt-4o-mini": 1721172741,
    "o1-preview": 1725648897,
    "o1-mini": 1725649008,
    "o1": 1734375816,
    "o3-mini": 1737146383,
    "o3": 1744225308,
    "o4-mini": 1744225351,
    "gpt-4.1": 1744316542,
    "gpt-4.1-mini": 1744318173,
    "gpt-4.1-nano": 1744321707,
    "gpt-5": 1754425777,
    "gpt-5-mini": 1754425928,
    "gpt-5-nano": 1754426384,
}


class Models(Resource):
    def list(self) -> Obj:
        """Every registered model (the real list has no cursors: `object` and `data` only)."""
        data = [self._model(info.name) for info in self.service.settings.models]
        return {"object": "list", "data": data}

    def get(self, model_id: str) -> Obj:
        if model_id not in self.service.settings.models:
            raise NotFoundError(
                f"The model '{model_id}' does not exist", param="model", code="model_not_found"
            )
        return self._model(model_id)

    @staticmethod
    def _model(name: str) -> Obj:
        return objects.model(name, RELEASED.get(name, 0))
