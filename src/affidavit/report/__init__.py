"""The security review pack: the client report (HTML, PDF, Markdown, OSCAL) and the
admin worklist."""
