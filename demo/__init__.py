"""The Gradio web demo (``python -m demo``).

- :mod:`demo.pipeline` - one request without Gradio: limits, tracking, H.264 video, gallery.
- :mod:`demo.collect` - what the tracking pass keeps for the page (crops, features, spans, strips).
- :mod:`demo.jobs` - job control: cancel flags per session, progress phases and time left.
- :mod:`demo.reid` - the server's ReID choices, calibrated text search, TFE attention.
- :mod:`demo.gallery` - identity tiles, segments, the presence timeline and the attention strip.
- :mod:`demo.views` - the gallery, search and strip handlers of the page.
- :mod:`demo.media` - H.264 re-encoding with PyAV so browsers play the result.
- :mod:`demo.app` - the Blocks UI: ``build_app(settings)`` and ``launch(app, settings)``.
"""

import cgclip  # noqa: F401  (first: a Ctrl-C while a CLI starts prints one line)
