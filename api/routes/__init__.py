"""One module of routes per resource; each handler calls one service function of control/."""
