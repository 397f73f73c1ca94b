"""The postmortem web view: signed, expiring links (`links`), the page (`page`), its route (`routes`) and
the store adapter that builds the page (`load`). No cookies, no login, no script."""
