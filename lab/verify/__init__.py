"""`lab check`: every check kind's runner (CHECKS in lab.verify.checks), what checks need of a
running lab (context), and the parsers of what OVS/OVN print."""
