# fork_workers.pl: the same as fork_workers.rb for Perl: a large hash and
# array built before forking, read by 3 forked workers (one writes into the
# hash, which also updates reference counts and string buffers), results
# through pipes, a checksum printed by the parent.
use strict;
use warnings;
my %data;
$data{"key$_"} = "value-$_-" x 3 for 0 .. 199_999;
my @list = map { $_ * 7 } 0 .. 99_999;
my (@pids, @pipes);
for my $w (0 .. 2) {
    pipe(my $r, my $wr) or die "pipe: $!";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        close $r;
        my $sum = 0;
        $sum += length($_) for values %data;
        $sum += $_ for @list;
        if ($w == 2) { $data{"key$_"} = "changed-$_" for 0 .. 99; }
        print $wr "$w $sum $data{key5}\n";
        close $wr;
        if ($w == 1) { require POSIX; POSIX::_exit(0); } # one worker leaves through _exit
        exit 0;
    }
    close $wr;
    push @pids, $pid;
    push @pipes, $r;
}
my @results = map { local $/; my $s = readline($_); close $_; $s } @pipes;
my @st = map { waitpid($_, 0); $? } @pids;
print @results;
print join(" ", map { ($_ >> 8) . (($_ & 127) ? " signal " . ($_ & 127) : "") } @st), "\n";
my $sum = 0;
$sum += length($_) for values %data;
$sum += $_ for @list;
print "checksum $sum\n";
