"""The commons: what a challenge's teams leave to everyone when they exit.

When a team's exit is final the challenge publishes ``challenge.team_left`` (``TeamLeft``); the
commons handles it as the job ``commons.run_release_plan`` (``release.run_release_plan``): each
planned repo becomes a release item, is checked for personal data (``pii``) and for license
conflicts along its lineage (``licensing``), and is then opened as planned, embargoed until a date,
or held for an operator. A ``hub.commit_landed`` event re-checks a held repo's items
(``commons.recheck_held_release``), and the hourly ``commons.release_due`` job releases embargoes
whose date has come. ``domain`` registers all of it. The ``catalogue`` lists per challenge and
team what was released, its downloads, what was built on it and its evaluations. ``models`` holds
the tables (``challenge_release_items``, ``challenge_release_findings``, ``challenge_release_actions``);
``api`` and ``pages`` serve the operators' routes and the catalogue's page.

The commons builds on the challenge, hub, accounts, core, storage, evaluation and provenance
domains; none of them imports it, and it never imports the talent domain (the catalogue with talent
placements is composed in the web layer, ``baton.web.catalogue``).
"""
