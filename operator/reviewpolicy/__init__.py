"""The ReviewPolicy controller (a kopf operator). Run it with `kopf run --standalone -A -m reviewpolicy`."""
