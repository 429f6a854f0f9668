"""`nac ui`: a local web page to hear NAC against Opus, restore files and inspect .nac files.

`actions` holds what each tab does (plain functions, tested without a browser); `server` is the
FastAPI app that serves `page.html` and calls them. Install with `pip install -e .[ui]`.
"""
