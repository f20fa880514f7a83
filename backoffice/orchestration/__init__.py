"""Prefect glue: a bot's flow built from its ``Inputs`` (:mod:`.flows`), the batch tasks
(:mod:`.tasks`), the maintenance flows (:mod:`.maintenance`) and deployments (:mod:`.deploy`).

Import the submodules directly; importing this package does not import Prefect.
"""
