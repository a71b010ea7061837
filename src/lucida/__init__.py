"""lucida: semantic search for photo libraries.

The library is the product; the CLI (`lucida.cli`) and the web app (`lucida.web`) are thin
shells over it:

    from lucida.library import Library

    with Library.open("photos.db", create=True) as library:
        library.index(["/photos"])
        for hit in library.search("a horse in a field", k=5).results:
            print(hit.score, hit.path, hit.caption)
"""

__version__ = "0.1.0"
