# fork_workers.rb: a large structure built before forking, read by 3 forked
# workers (one also writes into it and runs the GC), results through pipes,
# a checksum printed by the parent. Ruby's GC writes mark bits into its
# heap pages and object headers, so the workers copy much of what they read.
data = {}
200_000.times { |i| data["key#{i}"] = "value-#{i}-" * 3 }
list = Array.new(100_000) { |i| i * 7 }
pipes = []
pids = 3.times.map do |w|
  r, wr = IO.pipe
  pipes << r
  fork do
    r.close
    sum = 0
    data.each_value { |v| sum += v.bytesize }
    list.each { |x| sum += x }
    if w == 2
      100.times { |i| data["key#{i}"] = "changed-#{i}" }
      GC.start
    end
    wr.write("#{w} #{sum} #{data['key5']}\n")
    wr.close
    exit!(0) if w == 1 # one worker leaves through _exit (exit!), skipping at_exit
  end.tap { wr.close }
end
results = pipes.map { |r| r.read.tap { r.close } }
statuses = pids.map { |pid| Process.wait2(pid)[1] }
puts results
puts statuses.map { |s| s.exitstatus.inspect + (s.signaled? ? " signal #{s.termsig}" : "") }.join(" ")
puts "checksum #{data.values.sum(&:bytesize) + list.sum}"
