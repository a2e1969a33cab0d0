import sys

from auedge.train.data.cli import main

sys.exit(main())
