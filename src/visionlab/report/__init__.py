"""Figures shared by every part, and the HTML report that gathers run folders."""
