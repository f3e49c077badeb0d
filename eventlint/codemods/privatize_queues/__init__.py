"""``privatize-queues``: make the public raw channels EVT001 found private.

For a public attribute or module global bound to a raw channel (``Hub.inbox``):
- rename it to a private name (``_inbox``; ``_inbox_channel`` when that is taken) at
  every use in the analysed code: the owner's own (``self.inbox``, ``cls.inbox``,
  ``Hub.inbox``, the owner's subclasses) and the outside ones the graph resolves;
- give the owner one small method per distinct operation the outside code performed —
  ``publish``, ``publish_nowait``, ``next_event``, ``next_event_nowait``, or the queue's own
  ``task_done`` / ``join`` — async when the operation was awaited, and rewrite those
  calls: ``hub.inbox.put(x)`` → ``hub.publish(x)``.  A module global gets module functions.

For a public method or property returning a private channel, the outside put/get calls
through it are rewritten the same way and the accessor is removed once nothing else uses
it (otherwise it stays, and the output says where it is still used).

A channel with a use that can't be rewritten (passed as an argument, stored elsewhere, a
receiver of unknown type that may or may not be it) is left entirely untouched, with the
reason.  Renames and new methods change behaviour for code outside the analysed paths, so
the codemod is unsafe.

Which channel and which public name come from the plan EVT001 made for the finding
(``PrivatizeChannel`` or ``ReplaceAccessor``).  The modules, by concern: ``scan`` reads a
file, ``plan`` decides the edits, ``methods`` writes the forwarders, ``edits`` applies
them as a ``libcst.codemod`` command.
"""

from __future__ import annotations

from .. import CodemodResult, FixRun
from .plan import Planner


class PrivatizeQueues:
    name = "privatize-queues"
    description = "Rename public raw queues (EVT001) to private names and give their owners methods for outside use."
    safety = "unsafe"

    def run(self, context: FixRun) -> CodemodResult:
        return Planner(context).run()
