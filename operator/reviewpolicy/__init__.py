"""The ReviewPolicy controller (a kopf operator). Run it with `kopf run --standalone -A -m reviewpolicy`
or `reviewops operator`; importing the package registers its handlers with kopf."""

from reviewpolicy import handlers as handlers
