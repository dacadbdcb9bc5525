"""The offline demo `manage.py up` runs: a DNS server and a web server on 127.0.0.1, and a pipeline over them.

`sites` says which names exist and what each serves; `servers` answers for
them; `setup` imports the personas and keyword sets that point at the
servers and creates the generation → DNS → HTTP pipeline.
"""
