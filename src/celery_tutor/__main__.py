"""``python -m celery_tutor`` runs the command line."""

import sys

from celery_tutor.cli import main

sys.exit(main())
