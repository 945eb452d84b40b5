import sys

from lgs_crawl.cli import main

sys.exit(main())
