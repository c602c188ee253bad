"""The Gradio web demo (``python -m demo``).

- :mod:`demo.pipeline` - one request without Gradio: limits, tracking, H.264 video, gallery.
- :mod:`demo.reid` - the server's ReID choices and text search over tracks.
- :mod:`demo.gallery` - identity tiles (best crop + presence timeline) from the tracker's JSON.
- :mod:`demo.media` - H.264 re-encoding with PyAV so browsers play the result.
- :mod:`demo.app` - the Blocks UI: ``build_app(settings)`` and ``launch(app, settings)``.
"""

import cgclip  # noqa: F401  (first: a Ctrl-C while a CLI starts prints one line)
