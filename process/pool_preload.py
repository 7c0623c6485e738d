"""What the extraction pool's fork server loads once, before it forks any worker.

In: nothing. Out: nothing but a warm interpreter: importing this module imports
``process.page_text`` (trafilatura, htmldate, lxml, py3langid) and extracts one small page, which
loads py3langid's model (about 0.3-0.8 s of CPU) and trafilatura's lazy tables. Each worker forked
from the server starts with all of it instead of loading it again. What is loaded is then frozen
(``gc.freeze``, as the ``gc`` module advises before forking): the workers' collections skip it, and so do not
write to (and copy) the pages they share with the server. Only the fork server imports this module
(``process.extractor`` names it as the server's preload); nothing else should.
"""

from __future__ import annotations

import gc

from wirewatch.process.page_text import warm_up

warm_up()
gc.freeze()
