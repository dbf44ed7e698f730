"""Long-form jobs: a whole book (EPUB, Markdown or plain text) spoken into one chaptered audio file.

``document`` reads a book into chapters of segments, ``job`` synthesizes them resumably into a work folder
(every finished segment is a file, so a killed job continues where it stopped), ``container`` writes the
result: M4B or MP3 with chapter marks, and the subtitles."""
