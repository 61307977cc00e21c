"""The security suites run on every backend (support/backends.py): a test or fixture that asks
for ``backend`` runs on the local stores and on DynamoDB + S3 + Cognito on moto's server."""

from tests.support.backends import parametrize_backend_per_module

pytest_generate_tests = parametrize_backend_per_module
