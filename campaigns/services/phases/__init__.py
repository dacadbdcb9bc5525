"""One module per phase (generation, DNS, HTTP), each owning its batch: what it reads, how it records it.

None of them claims work: the worker claims a job, asks the phase for its
input, does the network part outside any transaction, and hands the outcomes
back to the phase's record function, which writes them in one short transaction.
"""
