"""scripts/lent_gpu_machine/pack_dataset.py: a dataset into parts under a size limit and back, every file checked."""
import filecmp
import os
import tarfile

from conftest import load_script, run_script, write_pairs

pack_dataset = load_script('pack_dataset')


def same_tree(a, b):
    comparison = filecmp.dircmp(a, b)
    return (not comparison.left_only and not comparison.right_only and not comparison.diff_files
            and all(same_tree(os.path.join(a, sub), os.path.join(b, sub)) for sub in comparison.common_dirs))


def packed(tmp_path, part_mib=0.1, first=0):
    """A dataset of 6 pairs of 96x64 noise images (about 18 KB a file; stems first to first + 5) and its parts."""
    src = tmp_path / 'our485'
    write_pairs(str(src), [f'{i}' for i in range(first, first + 6)], size=(96, 64))
    (src / 'low' / '.hidden').write_text('not data')
    assert run_script(pack_dataset, 'pack', src, '--out', tmp_path / 'parts', '--part-mib', part_mib) is None
    return src, tmp_path / 'parts'


def test_parts_stay_under_the_limit_and_unpack_to_the_same_files(tmp_path):
    src, parts = packed(tmp_path)
    names = sorted(os.listdir(parts))
    assert len(names) >= 3 and names[:2] == ['part_00.tar', 'part_01.tar']
    assert all(os.path.getsize(parts / name) <= 0.1 * 2**20 for name in names)
    assert run_script(pack_dataset, 'unpack', parts, '--out', tmp_path / 'back') is None
    (src / 'low' / '.hidden').unlink()  # hidden files are not packed
    assert same_tree(src, tmp_path / 'back')


def test_a_missing_part_is_named_and_nothing_is_unpacked(tmp_path):
    _, parts = packed(tmp_path)
    (parts / 'part_01.tar').unlink()
    error = run_script(pack_dataset, 'unpack', parts, '--out', tmp_path / 'back')
    assert error.startswith('pack_dataset.py: error: ') and error.endswith('part_01.tar: missing (1 of 3 parts missing)')
    assert sorted(os.listdir(tmp_path)) == ['our485', 'parts']


def test_a_damaged_part_is_named_and_nothing_is_unpacked(tmp_path):
    _, parts = packed(tmp_path)
    with tarfile.open(parts / 'part_01.tar') as archive:
        member = next(m for m in archive if m.name != 'pack.json')
    with open(parts / 'part_01.tar', 'r+b') as f:  # flip a byte of the first file's data
        f.seek(member.offset_data + 100)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    error = run_script(pack_dataset, 'unpack', parts, '--out', tmp_path / 'back')
    assert error.endswith(f'part_01.tar: {member.name} does not match its checksum (a damaged part)')
    assert sorted(os.listdir(tmp_path)) == ['our485', 'parts']


def test_an_existing_output_is_kept_without_force(tmp_path):
    src, parts = packed(tmp_path)
    (tmp_path / 'back').mkdir()
    (tmp_path / 'back' / 'mine.txt').write_text('keep')
    error = run_script(pack_dataset, 'unpack', parts, '--out', tmp_path / 'back')
    assert error.endswith('back already exists: pass --force to replace it')
    assert os.listdir(tmp_path / 'back') == ['mine.txt']
    assert run_script(pack_dataset, 'unpack', parts, '--out', tmp_path / 'back', '--force') is None
    assert sorted(os.listdir(tmp_path / 'back')) == ['high', 'low']


def test_a_file_larger_than_a_part_is_refused(tmp_path):
    src = tmp_path / 'src'
    src.mkdir()
    (src / 'big.bin').write_bytes(bytes(200_000))
    error = run_script(pack_dataset, 'pack', src, '--out', tmp_path / 'parts', '--part-mib', 0.1)
    assert error.endswith('big.bin: 200000 bytes, more than a part of --part-mib holds')
    assert not (tmp_path / 'parts').exists()


def test_a_part_of_another_packing_is_named(tmp_path):
    _, parts = packed(tmp_path / 'one')
    _, other_parts = packed(tmp_path / 'two', first=1)
    os.replace(other_parts / 'part_01.tar', parts / 'part_01.tar')  # the same number, another packing
    error = run_script(pack_dataset, 'unpack', parts, '--out', tmp_path / 'back')
    assert error.endswith('part_01.tar: not part 1 of the packing of ' + str(parts / 'part_00.tar')
                          + ' (a part left from another packing?)')
    assert not (tmp_path / 'back').exists()
