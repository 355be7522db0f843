"""The Assets the elt DAGs produce. Downstream DAGs schedule on them:

from elt_common.assets import MARTS_ASSET

@dag(schedule=[MARTS_ASSET], ...)
"""

from __future__ import annotations

from airflow.sdk import Asset

#: The dbt marts (schema `marts` of the destination), updated when they are built AND tested.
MARTS_ASSET = Asset(name="elt_marts", uri="elt://destination/marts", group="elt")
