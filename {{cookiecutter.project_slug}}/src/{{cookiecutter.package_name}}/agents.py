{%- set agents = {"ppo": ["ppo"], "dqn": ["dqn"], "all": ["ppo", "dqn"], "none": []}[cookiecutter.example_agent] -%}
"""The project's agents by name: what ``train`` and ``sweep`` can run.

Adding an agent (SAC, say) is one new file and one line here: write ``sac.py`` beside the
others (a config dataclass subclassing ``rlcore.runs.RunConfig``, its tuned ``ENV_DEFAULTS``,
its network, a ``train(config, *, resume=False)`` written on ``rlcore.runs.Run``, and
``AGENT = Agent("sac", SACConfig, train, ENV_DEFAULTS)``), then add ``sac.AGENT`` below.
``defaults`` holds the project-wide values of the run settings, under every agent's tuned ones.
"""

from __future__ import annotations

from rlcore.runs import Registry
{%- if agents %}

from {{ cookiecutter.package_name }} import {{ agents | sort | join(", ") }}
{%- endif %}

__all__ = ["AGENTS"]

AGENTS = Registry(
{%- for agent in agents %}
    {{ agent }}.AGENT,
{%- endfor %}
    defaults={"logger": "{{ cookiecutter.logger }}", "wandb_project": "{{ cookiecutter.project_slug }}"},
)
