"""The built-in schemas, all of them: importing this module defines (and so registers) every table.

Named in ``setup.cfg``'s ``zvt_crypto.schemas`` entry-point group, the way a third party declares its own; the
Alembic environment imports it for the complete metadata.
"""

from zvt_crypto.domain import entities, factors, jobs, paper, series, signals, trading

MODULES = (entities, factors, jobs, paper, series, signals, trading)
