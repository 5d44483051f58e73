"""Go templates as Alertmanager renders them: its data model, its functions, its default templates.

``TemplateSet`` (engine.py) holds the defaults and the config's ``templates:`` files; receivers parse their
fields with ``TemplateSet.text``/``html`` and render them with the ``Data`` of a notification (data.py).
"""

from fleetmon.hub.alerting.templates.data import Data, example_data, from_json, from_notification
from fleetmon.hub.alerting.templates.engine import (
    Budget,
    Field,
    RenderError,
    TemplateLoadError,
    TemplateSet,
    TemplateSyntaxError,
    default_templates,
    read_glob,
    syntax_error,
)

__all__ = ["Budget", "Data", "Field", "RenderError", "TemplateLoadError", "TemplateSet", "TemplateSyntaxError",
           "default_templates", "example_data", "from_json", "from_notification", "read_glob", "syntax_error"]
