"""Operations on a lab: up, down, status, heal, stop/start, wire faults, add-vm/del-vm and
upgrade, each through the lab's provider (lab.providers) and under the lab's lock."""
