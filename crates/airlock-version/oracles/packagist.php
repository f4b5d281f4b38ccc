<?php
// Oracle: Composer's VersionParser::normalize + Comparator; -1/0/1 or E per pair.
require '/usr/share/php/Composer/Semver/autoload.php';
use Composer\Semver\VersionParser;
$parser = new VersionParser();
while (($line = fgets(STDIN)) !== false) {
    [$a, $b] = explode("\t", rtrim($line, "\n"));
    try {
        $na = $parser->normalize($a);
        $nb = $parser->normalize($b);
    } catch (UnexpectedValueException $e) {
        echo "E\n";
        continue;
    }
    echo version_compare($na, $nb), "\n";
}
